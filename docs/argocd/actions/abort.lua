-- Requests `abort` as `modelrollout abort` does: the control annotation with a fresh token.
-- The operator acts once per distinct value; no field that Git owns is touched.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["modelrollout.io/control"] = "abort/argocd-" .. os.date("!%Y%m%dT%H%M%SZ")
return obj
