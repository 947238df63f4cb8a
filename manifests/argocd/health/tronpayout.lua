-- Argo CD health of a TronPayout (payments.lucid.io). Runs in Argo CD's Lua 5.1 sandbox with
-- the live object as `obj`; tested with lua5.4.
--   Healthy      phase Completed
--   Degraded     phase Failed or Rejected, or Stalled=True (e.g. the signer Secret is missing)
--   Suspended    phase AwaitingApproval: waiting for a TronPayoutApproval
--   Progressing  anything else: Pending, Prepared, Broadcasting, Confirming, or no status yet
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then return nil end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local phase = nil
local message = nil
if obj.status ~= nil then
  phase = obj.status.phase
  message = obj.status.message
end
local stalled = condition("Stalled")
local reconciling = condition("Reconciling")
if message == nil and stalled ~= nil and stalled.status == "True" then message = stalled.message end
if message == nil and reconciling ~= nil then message = reconciling.message end

if phase == "Completed" then
  hs.status = "Healthy"
  if obj.status.txID ~= nil then message = "paid in transaction " .. obj.status.txID end
elseif phase == "Failed" or phase == "Rejected" then
  hs.status = "Degraded"
elseif phase == "AwaitingApproval" then
  hs.status = "Suspended"
elseif stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
if phase == nil then
  hs.message = message or "waiting for the operator"
else
  hs.message = phase .. (message and (": " .. message) or "")
end
return hs
