-- The sandbox Redis 7.0 gives scripts, built in plain Lua 5.1: scripts see
-- a proxy of the globals (reads of unknown names fail, writes fail as on a
-- readonly table), libraries are readonly proxies, and redis.* calls reach
-- the node through `host`, set only while a script runs.
local lib_redis, sha1hex, rand48, srand48, log, raiser, is_killed, host = ...

local dbg = debug
local rawset_, rawget_, setmetatable_, getmetatable_ = rawset, rawget, setmetatable, getmetatable
local type_, error_, tostring_, tonumber_, select_, unpack_ = type, error, tostring, tonumber, select, unpack
local pcall_, xpcall_, loadstring_, setfenv_, getfenv_, next_ = pcall, xpcall, loadstring, setfenv, getfenv, next
local concat_, floor_ = table.concat, math.floor
local real_G = _G

local readonly = setmetatable_({}, { __mode = 'k' })
local function ro_newindex() error_('Attempt to modify a readonly table', 2) end
local locked = {}
setmetatable_(locked, { __newindex = ro_newindex, __metatable = locked })
readonly[locked] = true

local function protect(t)
    local p = {}
    setmetatable_(p, { __index = t, __newindex = ro_newindex, __metatable = locked })
    readonly[p] = true
    return p
end

local function no_global(_, k, level)
    error_("Script attempted to access nonexistent global variable '" .. tostring_(k) .. "'", level or 2)
end

-- An error table as Redis builds it from "-CODE message" or "message".
local function err_table(s)
    local code, msg
    if s:sub(1, 1) == '-' then
        local sp = s:find(' ', 1, true)
        if sp then code, msg = s:sub(2, sp - 1), s:sub(sp + 1) else code, msg = 'ERR', s:sub(2) end
    else
        code, msg = 'ERR', s
    end
    msg = msg:gsub('^[\r\n]+', ''):gsub('[\r\n]+$', '')
    return { err = code .. ' ' .. msg }
end

-- `host` (a C function) reaches the node; outside a script it answers with
-- "can only be called inside a script invocation".

-- The redis.* functions that can fail are C functions made by `raiser(i)`:
-- each packs its arguments, runs impls[i] (which returns value, failed) and
-- raises the error table on failure. Being C, they keep the calling
-- script's frame on the stack for the error's line number.
local impls = {}
local function api(impl)
    impls[#impls + 1] = impl
    return raiser(#impls)
end
local function failure(msg) return err_table(msg), true end

local R = {}
R.call = api(function(args, n)
    return host(11, args, n)
end)
R.pcall = function(...)
    local n = select_('#', ...)
    if n <= 16 then return (host(1, ...)) end
    return (host(11, { ... }, n))
end
R.setresp = api(function(args, n)
    if n ~= 1 then return failure('redis.setresp() requires one argument.') end
    local v = tonumber_(args[1])
    if v ~= 2 and v ~= 3 then return failure('RESP version must be 2 or 3.') end
    host(2, v)
    return nil, false
end)
R.set_repl = api(function(args, n)
    if n ~= 1 then return failure('redis.set_repl() requires two arguments.') end
    local v = floor_(tonumber_(args[1]) or 0)
    if v < 0 or v > 3 then
        return failure('Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.')
    end
    host(3, v)
    return nil, false
end)
R.acl_check_cmd = api(function(args, n)
    if n == 0 then return failure('Please specify at least one argument for this redis lib call') end
    return host(14, args, n)
end)
R.replicate_commands = function() return true end
R.breakpoint = function() return false end
R.debug = function() end
R.sha1hex = api(function(args, n)
    if n ~= 1 then return failure('wrong number of arguments') end
    return sha1hex(args[1]), false
end)
R.error_reply = function(...)
    if select_('#', ...) ~= 1 or type_((...)) ~= 'string' then return err_table('wrong number or type of arguments') end
    local e = ...
    if e:sub(1, 1) ~= '-' then e = '-' .. e end
    return err_table(e)
end
R.status_reply = function(...)
    if select_('#', ...) ~= 1 or type_((...)) ~= 'string' then return err_table('wrong number or type of arguments') end
    return { ok = (...) }
end
local redis_log = api(function(args, n)
    if n < 2 then return failure('redis.log() requires two arguments or more.') end
    local level = tonumber_(args[1])
    if level == nil then return failure('First argument must be a number (log level).') end
    level = floor_(level)
    if level < 0 or level > 3 then return failure('Invalid debug level.') end
    local parts = {}
    for i = 2, n do
        local t = type_(args[i])
        if t == 'string' or t == 'number' then parts[#parts + 1] = tostring_(args[i]) end
    end
    log(level, concat_(parts, ' '))
    return nil, false
end)
local function add_constants(t)
    t.log = redis_log
    t.LOG_DEBUG, t.LOG_VERBOSE, t.LOG_NOTICE, t.LOG_WARNING = 0, 1, 2, 3
    t.REDIS_VERSION, t.REDIS_VERSION_NUM = lib_redis.version, lib_redis.version_num
end
add_constants(R)
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3

-- math.random as Redis has it: the same sequence for the same seed everywhere.
local function checkint(pos, v)
    local n = tonumber_(v)
    if n == nil then
        error_("bad argument #" .. pos .. " to 'random' (number expected, got " .. (v == nil and 'no value' or type_(v)) .. ")", 3)
    end
    return floor_(n)
end
math.random = function(...)
    local r = rand48() / 2147483647
    local n = select_('#', ...)
    if n == 0 then return r end
    if n == 1 then
        local u = checkint(1, (...))
        if u < 1 then error_("bad argument #1 to 'random' (interval is empty)", 2) end
        return floor_(r * u) + 1
    end
    if n == 2 then
        local l, u = checkint(1, (...)), checkint(2, select_(2, ...))
        if l > u then error_("bad argument #2 to 'random' (interval is empty)", 2) end
        return floor_(r * (u - l + 1)) + l
    end
    error_('wrong number of arguments', 2)
end
math.randomseed = function(seed)
    srand48(checkint(1, seed))
end

-- The globals a script sees (S), behind the readonly proxy G.
local S = {}
local function pack(...) return { n = select_('#', ...), ... } end
S.xpcall = function(f, handler)
    local r = pack(xpcall_(f, handler))
    if not r[1] and is_killed() then error_(r[2], 0) end
    return unpack_(r, 1, r.n)
end
for _, name in next_, { 'tostring', 'next', 'assert', 'tonumber', 'rawequal', 'collectgarbage', 'getmetatable',
    'coroutine', 'type', 'select', 'unpack', 'gcinfo', 'pairs', 'rawget', 'ipairs', '_VERSION',
    'error', 'newproxy',
} do
    S[name] = real_G[name]
end
for _, name in next_, { 'string', 'math', 'table', 'cjson', 'bit', 'cmsgpack', 'struct' } do
    if real_G[name] then S[name] = protect(real_G[name]) end
end
S.redis = protect(R)

local G = {}
local G_mt = { __index = S, __newindex = ro_newindex, __metatable = locked }
setmetatable_(G, G_mt)
readonly[G] = true
S._G = G
setmetatable_(S, { __index = no_global })

S.rawset = function(t, k, v)
    if readonly[t] then error_('Attempt to modify a readonly table', 0) end
    return rawset_(t, k, v)
end
S.setmetatable = function(t, mt)
    if readonly[t] then error_('Attempt to modify a readonly table', 0) end
    return setmetatable_(t, mt)
end
local function shift(level)
    if level == nil then return 2 end
    if type_(level) == 'number' and level > 0 then return level + 1 end
    return level
end
S.getfenv = function(level)
    local e = getfenv_(shift(level))
    if e == real_G then return G end
    return e
end
S.setfenv = function(f, t)
    if f == 0 or t == real_G then error_('Attempt to modify a readonly table', 2) end
    return setfenv_(shift(f), t)
end
S.loadstring = function(s, name)
    if type_(s) == 'string' and s:byte(1) == 27 then return nil, 'binary chunks are not allowed' end
    local f, e = loadstring_(s, name)
    if f then setfenv_(f, G) end
    return f, e
end
S.load = function(reader, name)
    local parts = {}
    while true do
        local p = reader()
        if p == nil or p == '' then break end
        parts[#parts + 1] = p
    end
    return S.loadstring(concat_(parts), name or '=(load)')
end
-- Redis 7 errors are tables; pcall hands back their message as older versions did.
S.pcall = function(...)
    local r = pack(pcall_(...))
    if not r[1] and is_killed() then error_(r[2], 0) end
    if not r[1] and type_(r[2]) == 'table' then
        local e = rawget_(r[2], 'err')
        if type_(e) == 'string' then r[2] = e end
    end
    return unpack_(r, 1, r.n)
end

-- FUNCTION LOAD runs library code with only redis.register_function and
-- redis.log visible (Redis swaps the globals' fallback the same way).
local LR = {}
add_constants(LR)
local register
LR.register_function = api(function(args, n)
    if not register then return failure('redis.register_function can only be called on FUNCTION LOAD command') end
    return register(unpack_(args, 1, n))
end)
local LR_proxy = {}
setmetatable_(LR_proxy, {
    __index = function(_, k)
        local v = LR[k]
        if v == nil then no_global(nil, k, 3) end
        return v
    end,
    __newindex = ro_newindex,
    __metatable = locked,
})
readonly[LR_proxy] = true
local LA = { redis = LR_proxy }
setmetatable_(LA, { __index = no_global })

-- Where an error was raised, for "script: <name>, on @user_script:<line>."
local function err_handler(err)
    local level = 2
    local i = dbg.getinfo(level, 'nSl')
    while i and (i.what == 'C' or i.source == '=[redis]') do
        level = level + 1
        i = dbg.getinfo(level, 'nSl')
    end
    if type_(err) ~= 'table' then
        local s = tostring_(err)
        if type_(err) == 'userdata' then
            -- An error from a library written in Rust: its message, placed as luaL_error places it.
            s = s:gsub('^runtime error: ', '')
            local cut = s:find('\nstack traceback:', 1, true)
            if cut then s = s:sub(1, cut - 1) end
            if i and i.currentline and i.currentline > 0 then s = i.short_src .. ':' .. i.currentline .. ': ' .. s end
        end
        err = { err = 'ERR ' .. s }
    end
    if i then
        err.source = i.source
        err.line = i.currentline
    end
    return err
end

local api = {}
api.impls = impls
api.G = G
api.S = S
-- Scripts run under this handler (Vm::run calls lua_pcall with it).
api.err_handler = err_handler
-- Runs library code with the load-time globals, collecting registrations.
function api.load_library(f, reg)
    register = reg
    G_mt.__index = LA
    local ok, r = xpcall_(f, err_handler)
    G_mt.__index = S
    register = nil
    return ok, r
end
debug = nil
return api
