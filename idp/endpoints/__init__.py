"""OpenID Connect and OAuth endpoints, one module per endpoint."""
