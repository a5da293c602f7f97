//! The libraries Redis loads into its Lua state besides Lua's own: `bit`
//! (LuaBitOp), `cjson`, `cmsgpack` and `struct`, written here in Rust with
//! the results Redis's C versions give.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::Lua;

/// Sets the four libraries as globals (the prelude then protects them).
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let g = lua.globals();
    g.set("bit", bit::table(lua)?)?;
    g.set("cjson", cjson::table(lua)?)?;
    g.set("cmsgpack", cmsgpack::table(lua)?)?;
    g.set("struct", structlib::table(lua)?)?;
    Ok(())
}

/// A number argument as Lua 5.1 coerces it (numbers and numeric strings).
pub(crate) fn number(v: &mlua::Value, pos: usize, fname: &str) -> mlua::Result<f64> {
    match v {
        mlua::Value::Integer(i) => Ok(*i as f64),
        mlua::Value::Number(n) => Ok(*n),
        mlua::Value::String(s) => {
            s.to_str().ok().and_then(|s| s.trim().parse::<f64>().ok()).ok_or_else(|| bad_arg(pos, fname, "number", v))
        }
        _ => Err(bad_arg(pos, fname, "number", v)),
    }
}

/// Lua's "bad argument #n to 'f' (number expected, got nil)".
pub(crate) fn bad_arg(pos: usize, fname: &str, expected: &str, got: &mlua::Value) -> mlua::Error {
    let got = if got.is_nil() { "no value" } else { got.type_name() };
    mlua::Error::runtime(format!("bad argument #{pos} to '{fname}' ({expected} expected, got {got})"))
}
