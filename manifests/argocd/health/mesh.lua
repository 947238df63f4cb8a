-- Argo CD health of a Lucid mesh resource (TrafficPolicy, SecurityPolicy, CircuitBreakerConfig).
-- Runs in Argo CD's Lua 5.1 sandbox with the live object as `obj`; tested with lua5.4.
--   Healthy      Ready=True, and the operator has observed this generation
--   Suspended    Ready=False with reason Disabled (spec.enabled: false)
--   Degraded     Ready=False with a reason only a change to the resource can fix (Invalid*,
--                Unsupported*, Conflict), or Stalled=True
--   Progressing  anything else: not yet observed, or waiting for an object it names
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local function terminal(reason)
  if reason == nil then return false end
  return reason == "Conflict" or string.sub(reason, 1, 7) == "Invalid" or string.sub(reason, 1, 11) == "Unsupported"
end

local generation = obj.metadata.generation or 1
local ready = condition("Ready")
local observed = nil
if ready ~= nil then observed = ready.observedGeneration end
if observed == nil and obj.status ~= nil then observed = obj.status.observedGeneration end

if ready == nil or observed == nil or observed < generation then
  hs.status = "Progressing"
  hs.message = string.format("waiting for the operator to observe generation %d", generation)
  return hs
end

local stalled = condition("Stalled")
if ready.status == "True" then
  hs.status = "Healthy"
elseif ready.reason == "Disabled" then
  hs.status = "Suspended"
elseif terminal(ready.reason) or (stalled ~= nil and stalled.status == "True") then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = (ready.reason or "") .. ": " .. (ready.message or "")
return hs
