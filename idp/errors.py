"""Protocol errors: raised anywhere, rendered by the endpoint in the form its protocol wants."""
from __future__ import annotations


class OAuthError(Exception):
    """An RFC 6749 / OIDC error: `error` is the code, `description` tells the developer what to fix."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class UserError(Exception):
    """A problem a person must fix on a page (wrong password, weak password); `key` is a message id."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
