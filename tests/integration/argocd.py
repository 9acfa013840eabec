"""Runs the Argo CD health checks and actions of docs/argocd with Debian's Lua 5.1 (Argo CD's
gopher-lua speaks 5.1), the way Argo CD does: the object as the global `obj`, the script's return
value as the answer."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "docs" / "argocd"

# Encodes the script's answer as JSON (strings, numbers, booleans, arrays and objects suffice).
_ENCODER = r"""
local function encode(value)
  local kind = type(value)
  if kind == "table" then
    if next(value) == nil then return "{}" end
    if #value > 0 then
      local items = {}
      for _, item in ipairs(value) do items[#items + 1] = encode(item) end
      return "[" .. table.concat(items, ",") .. "]"
    end
    local keys = {}
    for key in pairs(value) do keys[#keys + 1] = key end
    table.sort(keys)
    local items = {}
    for _, key in ipairs(keys) do items[#items + 1] = encode(tostring(key)) .. ":" .. encode(value[key]) end
    return "{" .. table.concat(items, ",") .. "}"
  elseif kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif kind == "nil" then
    return "null"
  end
  return tostring(value)
end
"""


def lua_binary() -> str:
    found = shutil.which("lua5.1")
    if found is None:
        raise FileNotFoundError("lua5.1 not found: hack/install-system-deps.sh installs it (apt-get install lua5.1)")
    return found


def to_lua(value: Any) -> str:
    """A Lua table constructor for a JSON value (JSON null becomes an absent key, as in Argo CD)."""
    if isinstance(value, dict):
        fields = [f"[{to_lua(str(k))}] = {to_lua(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(fields) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        assert math.isfinite(value)
        return repr(value)
    if value is None:
        return "nil"
    # Raw UTF-8 (Lua strings are bytes); the escapes json.dumps leaves (\n, \", \\) are valid Lua too.
    return json.dumps(str(value), ensure_ascii=False)


def run(script: Path, obj: dict[str, Any]) -> Any:
    """The script's return value for `obj`, decoded from JSON."""
    program = (
        f"{_ENCODER}\nobj = {to_lua(obj)}\nlocal result = dofile({json.dumps(str(script))})\nprint(encode(result))\n"
    )
    done = subprocess.run([lua_binary(), "-"], input=program, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def health(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    answer = run(ARGOCD / f"health-{kind.lower()}.lua", obj)
    return answer["status"], answer["message"]


def enabled_actions(obj: dict[str, Any]) -> set[str]:
    return {name for name, spec in run(ARGOCD / "actions" / "discovery.lua", obj).items() if not spec["disabled"]}


def act(verb: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the action returns it (Argo CD then patches the live object with the difference)."""
    result: dict[str, Any] = run(ARGOCD / "actions" / f"{verb}.lua", obj)
    return result
