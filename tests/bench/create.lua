-- wrk script: POST a new pod per request to kctl-apiserver (path: WRK_PATH), or a put of the same pod JSON to
-- etcd's JSON gateway (ETCD=1). Names are unique per thread and request.
local threads = {}
local counter = 0

local template = [[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s","namespace":"default","labels":{"app":"bench","tier":"web"}},"spec":{"containers":[{"name":"main","image":"registry.example/bench/app:1.0","command":["/bin/app","--port=8080","--verbose"],"ports":[{"name":"http","containerPort":8080}],"env":[{"name":"MODE","value":"bench"}],"resources":{"limits":{"cpu":"100m","memory":"64Mi"}}}]}}]]
local etcd = os.getenv("ETCD") == "1"
-- Distinguishes the runs against one server, so names never collide (a collision would be a 409).
local prefix = os.getenv("NAME_PREFIX") or "bench"

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

local thread_count = 0
function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
end

local etcd_value = nil
function init(args)
  if etcd then etcd_value = base64(string.format(template, "etcd-pod")) end
end

function request()
  counter = counter + 1
  local name = string.format("%s-%d-%d", prefix, id, counter)
  if etcd then
    local body = string.format('{"key":"%s","value":"%s"}', base64("/registry/pods/default/" .. name), etcd_value)
    return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
  end
  return wrk.format("POST", "/api/v1/namespaces/default/pods", { ["Content-Type"] = "application/json" },
    string.format(template, name))
end

local bad = 0
function response(status, headers, body)
  if status ~= 201 and status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors(non-2xx) %d, %.0f req/s, p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
