"""Airflow's own authentication for the plugin apps (the api-server serves them without any).

Both the v1 submit endpoint and the pipeline view check the caller's JWT with Airflow's
``resolve_user_from_token`` and the configured auth manager's ``is_authorized_dag``.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

__all__ = ["NotAuthenticated", "bearer_token", "authorize_dag"]


class NotAuthenticated(Exception):
    """No token, or one Airflow does not accept; ``detail`` says which."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authorize_dag(token: str | None, dag_id: str, *, method: str, doing: str) -> Any:
    """The user behind ``token`` once the auth manager allows ``method`` on ``dag_id``'s runs.

    Raises NotAuthenticated (no or invalid token: callers answer 401 or redirect to the login
    page) or HTTPException 403 naming the user, the DAG and what was refused (``doing``).
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    if not token:
        raise NotAuthenticated("no token")
    try:
        user = await resolve_user_from_token(token)
    except HTTPException as exc:  # Airflow answers 403 for a malformed JWT: still "not authenticated"
        raise NotAuthenticated(f"invalid token: {exc.detail}") from exc
    allowed = get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )
    if not allowed:
        raise HTTPException(403, f"User {user.get_name()!r} may not {doing} {dag_id!r}.")
    return user
