// Pins the Gateway API release whose CRDs (config/crd/standard in the module) the tests install.
module modelrollout.io/toolchain/gatewayapi

go 1.25.0

require sigs.k8s.io/gateway-api v1.3.0
