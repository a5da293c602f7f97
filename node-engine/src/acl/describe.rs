//! Users as text: the rules ACL GETUSER and ACL LIST show, rebuilt from the
//! permissions as Redis 7.0 does (`ACLDescribeSelectorCommandRules`): start
//! from `+@all` or `-@all`, add the categories that explain the most
//! commands, then name single commands for what is left.

use super::user::{Selector, User, READ, WRITE};
use super::{category_members, Commands, CATEGORIES};

/// The command rules of a selector (`+@all -@string +incr -debug +debug|digest`).
pub fn command_rules(sel: &Selector, cat: &dyn Commands) -> String {
    let mut out = Vec::new();
    let mut fake = Selector::new(cat, false);
    let additive = !sel.all_bit;
    if additive {
        out.push("-@all".to_string());
    } else {
        out.push("+@all".to_string());
        // Always a valid rule.
        let _ = fake.apply("+@all", cat);
    }
    let mut temp = sel.clone();
    let groups: Vec<Vec<usize>> = CATEGORIES.iter().map(|c| category_members(cat, c)).collect();
    let mut applied = vec![false; CATEGORIES.len()];
    loop {
        let mut best = None;
        let (mut min_diff, mut max_same) = (usize::MAX, 0);
        for (j, ids) in groups.iter().enumerate() {
            if applied[j] {
                continue;
            }
            let on = ids.iter().filter(|&&id| temp.bit(id)).count();
            let off = ids.len() - on;
            let (diff, same) = if additive { (off, on) } else { (on, off) };
            if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                best = Some(j);
                min_diff = diff;
                max_same = same;
            }
        }
        let Some(j) = best else { break };
        for &id in &groups[j] {
            fake.change(cat, id, additive);
            temp.change(cat, id, !additive);
        }
        out.push(format!("{}{}", if additive { "+" } else { "-" }, CATEGORIES[j]));
        applied[j] = true;
    }
    singles(sel, &mut fake, cat, cat.top_level(), &mut out);
    out.join(" ")
}

fn singles(sel: &Selector, fake: &mut Selector, cat: &dyn Commands, ids: &[usize], out: &mut Vec<String>) {
    for &id in ids {
        let want = sel.bit(id);
        if want != fake.bit(id) {
            out.push(format!("{}{}", if want { "+" } else { "-" }, cat.name(id)));
            fake.change(cat, id, want);
        }
        singles(sel, fake, cat, cat.subcommands(id), out);
        if !want {
            for a in sel.firstargs.get(&id).into_iter().flatten() {
                out.push(format!("+{}|{a}", cat.name(id)));
            }
        }
    }
}

/// Key patterns as GETUSER shows them: `~*`, or `~a %R~b %W~c` ("" if none).
pub fn keys(sel: &Selector) -> String {
    if sel.allkeys {
        return "~*".into();
    }
    let parts: Vec<String> = sel
        .patterns
        .iter()
        .map(|(p, f)| match *f {
            f if f == READ | WRITE => format!("~{p}"),
            READ => format!("%R~{p}"),
            WRITE => format!("%W~{p}"),
            _ => format!("~{p}"),
        })
        .collect();
    parts.join(" ")
}

/// Channel patterns as GETUSER shows them: `&*`, or `&a &b` ("" if none).
pub fn channels(sel: &Selector) -> String {
    if sel.allchannels {
        return "&*".into();
    }
    sel.channels.iter().map(|c| format!("&{c}")).collect::<Vec<_>>().join(" ")
}

/// One selector as ACL LIST writes it: keys, channels, then commands.
pub fn selector(sel: &Selector, cat: &dyn Commands) -> String {
    let mut out = String::new();
    let k = keys(sel);
    if !k.is_empty() {
        out.push_str(&k);
        out.push(' ');
    }
    if sel.allchannels {
        out.push_str("&* ");
    } else {
        out.push_str("resetchannels ");
        for c in &sel.channels {
            out.push('&');
            out.push_str(c);
            out.push(' ');
        }
    }
    out.push_str(&command_rules(sel, cat));
    out
}

/// A user's rules as ACL LIST and ACL SAVE write them (without `user NAME`).
pub fn user(u: &User, cat: &dyn Commands) -> String {
    let mut out = String::new();
    for f in u.flag_names() {
        out.push_str(f);
        out.push(' ');
    }
    for p in &u.passwords {
        out.push('#');
        out.push_str(p);
        out.push(' ');
    }
    out.push_str(&selector(&u.selectors[0], cat));
    for s in &u.selectors[1..] {
        out.push_str(" (");
        out.push_str(&selector(s, cat));
        out.push(')');
    }
    out
}
