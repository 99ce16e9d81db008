"""The delete pass, behind the finalizer: delete the connection in Azure (policy Delete), leave it (Orphan),
or let go when nothing was ever identified there. A failure keeps the finalizer and says why, classified
by the same table as the apply pass."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from wsconn.api import controls
from wsconn.api.spec import InvalidSpecError, parse_spec
from wsconn.api.status import Status
from wsconn.arm.errors import ArmFailure
from wsconn.core import classify, ownership, reasons
from wsconn.core.identity import CREDENTIAL_KEYS, IdentityError, credential_secret, requested_secret
from wsconn.core.ids import connection_id
from wsconn.core.plan import DeleteAction, plan_delete
from wsconn.kube.secrets import SecretReadError
from wsconn.logs import Log
from wsconn.reconciler.apply import Ports
from wsconn.reconciler.model import Arm, DeleteResult, ObjectView
from wsconn.reconciler.passing import Pass


class DeletePass:
    """One deletion pass."""

    def __init__(self, ports: Ports, state: Pass, *, log: Log, correlation_id: str) -> None:
        self._ports = ports
        self._p = state
        self._log = log
        self._correlation_id = correlation_id
        self._target = delete_target(state.obj, state.start, ports.config.default_api_version)

    async def run(self) -> DeleteResult:
        """Plan and act."""
        obj = self._p.obj
        if controls.skipped(obj.annotations):
            self._log.info("reconcile-policy skip: leaving the connection in Azure")
            return DeleteResult(done=True, message="reconcile-policy skip: left in Azure")
        rival = ownership.rival_owner(obj.namespace, obj.name, obj.claimants)
        if rival is not None:
            self._log.info("%s owns the connection: leaving it in Azure", rival.ref)
            return DeleteResult(done=True, message=f"not the owner ({rival.ref} is): left in Azure")
        policy = str(obj.spec.get("deletionPolicy") or "Delete")
        refused = obj.spec.get("adoptionPolicy") == "Refuse" and self._p.start.applied_fingerprint is None
        action = plan_delete(policy=policy, target=self._target[0], refused=refused)
        return await ACTIONS[action](self)

    async def _orphan(self) -> DeleteResult:
        self._log.info("deletionPolicy Orphan: leaving the connection in Azure")
        return DeleteResult(done=True, message="orphaned")

    async def _forget(self) -> DeleteResult:
        if self._target[0] is not None:
            self._log.info("adoptionPolicy Refuse and nothing applied: leaving Azure alone")
            return DeleteResult(
                done=True, message="nothing applied under adoptionPolicy Refuse: left in Azure"
            )
        return DeleteResult(done=True, message="no connection was ever identified")

    async def _delete(self) -> DeleteResult:
        resource_id, api_version = self._target
        assert resource_id is not None  # plan_delete chose DELETE because there is a target
        try:
            arm = await self._arm()
            code = await arm.delete(resource_id, api_version, correlation_id=self._correlation_id)
        except IdentityError as exc:
            return self._refused(exc)
        except SecretReadError as exc:
            return self._failed(exc.fault, str(exc))
        except ArmFailure as exc:
            return self._failed(exc.fault, exc.describe())
        self._log.info("deleted connection %s in Azure (%s)", resource_id, code)
        return DeleteResult(done=True, message=f"deleted ({code})")

    async def _arm(self) -> Arm:
        """ARM as the identity the resource writes with (the same order as the apply pass's), so that one
        team's resource is deleted with that team's principal."""
        obj, config = self._p.obj, self._ports.config
        requested = requested_secret(obj.spec)
        secret = obj.ref.secret(credential_secret(requested))
        found = await self._ports.secrets.credential(secret, CREDENTIAL_KEYS)
        return self._ports.principals.arm(config.identity(obj.namespace, requested, found))

    def _refused(self, exc: IdentityError) -> DeleteResult:
        """No identity may delete: the finalizer stays and the pass is retried with backoff, so that creating
        the credential Secret (or `deletionPolicy: Orphan`) is noticed without a touch."""
        message = f"deleting {self._target[0]} failed ({exc.reason}): {exc}"
        self._log.warning(message)
        verdict = classify.Verdict("stalled", reasons.DELETE_FAILED, classify.Retry.BACKOFF)
        result = self._p.failed(verdict, message)
        return DeleteResult(
            done=False, message=result.outcome.message, patch=result.patch, retry_after=result.retry_after
        )

    def timed_out(self, message: str) -> DeleteResult:
        """The pass ran past its deadline."""
        return self._failed(classify.ArmDeadline(), message)

    def _failed(self, fault: classify.Fault, detail: str) -> DeleteResult:
        verdict = classify.classify_delete(fault)
        message = f"deleting {self._target[0]} failed ({classify.classify(fault).reason}): {detail}"
        self._log.warning(message)
        result = self._p.failed(verdict, message)
        return DeleteResult(
            done=False, message=result.outcome.message, patch=result.patch, retry_after=result.retry_after
        )


ACTIONS: Final[dict[DeleteAction, Callable[[DeletePass], Awaitable[DeleteResult]]]] = {
    DeleteAction.DELETE: DeletePass._delete,
    DeleteAction.ORPHAN: DeletePass._orphan,
    DeleteAction.FORGET: DeletePass._forget,
}


def delete_target(obj: ObjectView, status: Status, default_api_version: str) -> tuple[str | None, str]:
    """The ARM ID and api-version to delete: from status when applied, else from the spec if it parses."""
    api_version = str(status.azure_api_version or obj.spec.get("azureApiVersion") or default_api_version)
    if status.id:
        return status.id, api_version
    try:
        spec = parse_spec(obj.spec, metadata_name=obj.name, default_api_version=default_api_version)
    except InvalidSpecError:
        return None, api_version
    return connection_id(spec), spec.api_version
