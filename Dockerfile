# The operator image. Build where a container engine and registry are available:
#   docker build -t ghcr.io/modelrollout/modelrollout:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
COPY --from=build /install /usr/local
# Non-root, read-only root filesystem friendly: no writes outside /tmp.
USER 65532:65532
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["modelrollout"]
CMD ["run"]
