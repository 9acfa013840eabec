-- Which Rollout actions make sense now; the others are shown disabled.
local status = obj.status or {}
local inProgress = status.candidateVersion ~= nil
local pausedByUser = status.pausedByUser == true
actions = {}
actions["promote"] = {["disabled"] = not inProgress}
actions["promote-full"] = {["disabled"] = not inProgress}
actions["abort"] = {["disabled"] = not inProgress}
actions["retry"] = {["disabled"] = status.rejected == nil}
actions["pause"] = {["disabled"] = pausedByUser}
actions["resume"] = {["disabled"] = not pausedByUser}
return actions
