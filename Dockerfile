# The operator image. Build where a container engine and registry are available:
#   docker build -t ghcr.io/modelrollout/modelrollout:0.1.0 .
#
# The base is pinned by digest (python:3.11.14-slim-bookworm, the multi-platform index); bump tag
# and digest together. Every Python package comes from requirements.lock (pip-compile with hashes:
# `make lock` regenerates it from pyproject.toml); the build installs nothing else.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/modelrollout
COPY requirements.lock ./
# Runtime dependencies and the build backend (setuptools, wheel), all hash-checked.
RUN /opt/modelrollout/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
# The package itself, built with the locked backend; then the build tools leave the venv.
RUN /opt/modelrollout/bin/pip install --no-deps --no-build-isolation --no-index . \
 && /opt/modelrollout/bin/pip uninstall --yes setuptools wheel packaging \
 && /opt/modelrollout/bin/python -m pip uninstall --yes pip \
 && /opt/modelrollout/bin/modelrollout --version

FROM ${PYTHON_IMAGE}
# No installer in the final image: neither the venv's pip (removed above) nor the base image's.
RUN python -m pip uninstall --yes pip setuptools wheel \
 && rm -rf /root/.cache
COPY --from=build /opt/modelrollout /opt/modelrollout
ENV PATH=/opt/modelrollout/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Non-root; the chart mounts the root filesystem read-only with a writable /tmp.
USER 65532:65532
ENTRYPOINT ["modelrollout"]
CMD ["run"]
