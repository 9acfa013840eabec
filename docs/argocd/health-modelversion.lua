-- Argo CD health of a modelrollout.io ModelVersion: its lifecycle stage in the registry.
hs = {}
local status = obj.status
if status == nil or status.stage == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the ModelRollout operator to register the version"
  return hs
end
if status.stage == "rejected" then
  hs.status = "Degraded"
  hs.message = "Rejected" .. ((status.rollout and (" by " .. status.rollout)) or "")
  local history = status.history
  if history ~= nil and #history > 0 and history[#history].reason ~= nil then
    hs.message = hs.message .. ": " .. history[#history].reason
  end
  return hs
end
hs.status = "Healthy"
hs.message = "Stage " .. status.stage
return hs
