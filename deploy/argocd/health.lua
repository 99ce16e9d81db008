-- Argo CD health check for azureml.dev/WorkspaceConnection (key in argocd-cm:
-- resource.customizations.health.azureml.dev_WorkspaceConnection). Argo CD runs this body with the live
-- object in `obj` and reads the table it returns: status Healthy | Progressing | Degraded | Suspended, and a
-- message.
--
-- The operator writes kstatus conditions (Ready, Reconciling, Stalled) and status.observedGeneration; this
-- reads them the way kstatus (Flux) does, so both tools agree (docs/install.md):
--   being deleted, no status yet, or a generation the operator has not seen -> Progressing
--   Stalled=True (only a change by a person can help)                        -> Degraded
--   Reconciling=True (a transient failure being retried)                      -> Progressing
--   Ready=True for the current generation                                     -> Healthy
--   Ready=Unknown, reason ReconcileSkipped (azureml.dev/reconcile-policy: skip) -> Suspended
--   anything else                                                             -> Progressing
local hs = {}

local function condition(conditions, wanted)
  for _, c in ipairs(conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local metadata = obj.metadata or {}
local status = obj.status

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: the operator removes the Azure connection before the finalizer goes"
  return hs
end

if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

-- A spec change the operator has not processed yet: the conditions describe an older generation.
if metadata.generation ~= nil and status.observedGeneration ~= metadata.generation then
  hs.status = "Progressing"
  hs.message = "Generation " .. tostring(metadata.generation) .. " not observed yet (observed: "
    .. tostring(status.observedGeneration) .. ")"
  return hs
end

local stalled = condition(status.conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

local reconciling = condition(status.conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

local ready = condition(status.conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

-- Argo CD's state for a resource paused on purpose: the operator leaves it alone until the annotation goes, so
-- Progressing would wait for ever.
if ready ~= nil and ready.status == "Unknown" and ready.reason == "ReconcileSkipped" then
  hs.status = "Suspended"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = ready ~= nil and describe(ready) or "Waiting for the Ready condition"
return hs
