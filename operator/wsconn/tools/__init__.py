"""The `wsconn` tools for people who write and review manifests: validate, plan, import, convert, schema.

They reuse the operator's own pieces (the generated CRD, the spec parser, the body builder, the fingerprint)
so that what they say is what `kubectl apply` and the operator will do.
"""
