//! LuaBitOp (`bit.*`): 32-bit operations on Lua numbers, results signed.

use super::number;
use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalisation: round to an integer, keep the low 32 bits, signed.
fn tobit(n: f64) -> i32 {
    let m = n.rem_euclid(4294967296.0).round_ties_even();
    (m as u64 as u32) as i32
}

fn arg(args: &MultiValue, i: usize, fname: &str) -> mlua::Result<i32> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    Ok(tobit(number(&v, i + 1, fname)?))
}

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("tobit", lua.create_function(|_, a: MultiValue| Ok(f64::from(arg(&a, 0, "tobit")?)))?)?;
    t.set("bnot", lua.create_function(|_, a: MultiValue| Ok(f64::from(!arg(&a, 0, "bnot")?)))?)?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [("band", |a, b| a & b), ("bor", |a, b| a | b), ("bxor", |a, b| a ^ b)];
    for (name, op) in folds {
        t.set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let mut acc = arg(&a, 0, name)?;
                for i in 1..a.len() {
                    acc = op(acc, arg(&a, i, name)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let x = arg(&a, 0, name)?;
                let n = (arg(&a, 1, name)? as u32) & 31;
                Ok(f64::from(op(x, n)))
            })?,
        )?;
    }
    t.set("bswap", lua.create_function(|_, a: MultiValue| Ok(f64::from(arg(&a, 0, "bswap")?.swap_bytes())))?)?;
    t.set(
        "tohex",
        lua.create_function(|_, a: MultiValue| {
            let x = arg(&a, 0, "tohex")? as u32;
            let mut n = if a.len() > 1 { arg(&a, 1, "tohex")? } else { 8 };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(1, 8) as usize;
            let masked = if n == 8 { x } else { x & ((1u32 << (4 * n)) - 1) };
            Ok(if upper { format!("{masked:0n$X}") } else { format!("{masked:0n$x}") })
        })?,
    )?;
    Ok(t)
}
