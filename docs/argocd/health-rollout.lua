-- Argo CD health of a modelrollout.io Rollout, from the status the operator writes.
hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the ModelRollout operator to reconcile the Rollout"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the new spec"
  return hs
end
local message = status.message
if message == nil or message == "" then
  message = "phase " .. status.phase
end
if status.phase == "Healthy" then
  hs.status = "Healthy"
  hs.message = "Serving " .. (status.stableVersion or "the stable version")
elseif status.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = message
elseif status.phase == "RolledBack" or status.phase == "Degraded" then
  hs.status = "Degraded"
  hs.message = message
else
  -- Initializing, Progressing, Promoting
  hs.status = "Progressing"
  hs.message = message
end
return hs
