# syntax=docker/dockerfile:1.7
# The operator image: a venv built in one stage from the hashed lock (requirements/runtime.txt), copied onto
# the same Python base without pip, setuptools, caches, compilers or build tools. Runs as a numeric non-root
# user and needs no writable root filesystem (bytecode is compiled at build time; the operator writes
# nothing to disk). The image holds the operator alone: the build context (.dockerignore) leaves the test bed
# out, and so does the operator's distribution (pyproject.toml).
#
# PYTHON_IMAGE: any Debian-based image with python3 (>= 3.11) and its venv module on PATH. The default is
# the published Python slim image; hack/build-image builds on a Debian bookworm base made with mmdebstrap
# where no registry can be reached (docs/install.md, "The image").
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# Behind a TLS-intercepting proxy, pass its CA bundle's path as a build argument (the file must be in the
# build, e.g. `buildah build --volume`); hack/build-image passes the host's bundle. It reaches the pip steps
# only, never the final image.
ARG PIP_CERT
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Dependencies first (their layer survives source edits); wheels only, each checked against the lock's hash.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN python3 -m venv /opt/wsconn \
    && /opt/wsconn/bin/pip install --require-hashes --only-binary=:all: \
       -r requirements/runtime.txt -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY operator/wsconn ./operator/wsconn
# The project itself: no index, no dependency resolution, the pinned setuptools as the build backend.
RUN /opt/wsconn/bin/pip install --no-index --no-deps --no-build-isolation . \
    && /opt/wsconn/bin/python -m compileall -q /opt/wsconn/lib \
    && /opt/wsconn/bin/pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="wsconn-operator" \
      org.opencontainers.image.description="Kubernetes operator for Azure Machine Learning workspace connections" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/wsconn /opt/wsconn
# The user must exist: Kopf names its peering identity with getpass.getuser(), which fails for a uid that
# has no passwd entry (the started image showed it).
RUN echo 'wsconn:x:10001:10001:wsconn operator:/nonexistent:/usr/sbin/nologin' >>/etc/passwd \
    && echo 'wsconn:x:10001:' >>/etc/group
ENV PATH=/opt/wsconn/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["wsconn", "run"]
