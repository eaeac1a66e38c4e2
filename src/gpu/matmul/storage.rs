//! Products over operands stored in f16. The matmul kernels are written for f32 storage; a
//! variant for f16 A, B or C is the same WGSL with those bindings declared f16, every load
//! of them widened to f32 where it is read (`f32(a[i])`, `vec4<f32>(a4[i])`) and every store
//! to C narrowed (`c[i] = f16(v)`). So the arithmetic, the accumulation order and the
//! epilogues are the f32 kernels' own, and a product over f16 operands differs from the f32
//! product over the same (f16-representable) values only in C's final rounding. The epilogue's
//! `pre` tensor (the kept pre-activation, or the point a derivative epilogue reads) may be f16
//! too: read widened, stored narrowed, like C.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::backend::Matmul;
use crate::shaders::Shader;
use crate::tensor::DType;

/// Which of a product's A, B, C and epilogue tensor are stored in f16 (the others in f32).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Storage {
    pub a: bool,
    pub b: bool,
    pub c: bool,
    /// The kept pre-activation, or the derivative epilogue's point (`Matmul::pre`,
    /// `Derivative::at`).
    pub pre: bool,
}

impl Storage {
    pub const F32: Self = Self { a: false, b: false, c: false, pre: false };
    /// The number of storages (`index` is below it).
    pub(super) const COUNT: usize = 16;

    /// A, B and C stored as these types (an epilogue tensor, if any, in f32).
    pub fn of(a: DType, b: DType, c: DType) -> Self {
        Self { a: a == DType::F16, b: b == DType::F16, c: c == DType::F16, pre: false }
    }

    /// With the epilogue tensor `spec` names (its pre-activation or derivative point) stored
    /// as that tensor is.
    pub fn with_epilogue(self, spec: &Matmul) -> Self {
        let pre = spec.pre.or(spec.derivative.map(|d| d.at));
        Self { pre: pre.is_some_and(|t| t.dtype == DType::F16), ..self }
    }

    pub fn any_f16(self) -> bool {
        self.a || self.b || self.c || self.pre
    }

    /// 0 for all-f32, up to 15: a bit each for A, B, C and the epilogue tensor.
    pub(super) fn index(self) -> usize {
        self.a as usize | (self.b as usize) << 1 | (self.c as usize) << 2 | (self.pre as usize) << 3
    }

    /// "f16·f32→f16": A's type, B's, C's; ", pre f16" where the epilogue tensor is f16.
    pub fn label(self) -> String {
        let t = |f16: bool| if f16 { "f16" } else { "f32" };
        let pre = if self.pre { ", pre f16" } else { "" };
        format!("{}·{}→{}{pre}", t(self.a), t(self.b), t(self.c))
    }
}

/// `base` (a matmul shader) with the bindings `storage` names stored in f16; `base` itself for
/// all-f32. Generated once per process and variant.
pub fn variant(base: Shader, storage: Storage) -> Shader {
    if !storage.any_f16() {
        return base;
    }
    static VARIANTS: Mutex<Option<HashMap<(&'static str, Storage), Shader>>> = Mutex::new(None);
    let mut variants = VARIANTS.lock().unwrap_or_else(|p| p.into_inner());
    *variants.get_or_insert_with(HashMap::new).entry((base.family, storage)).or_insert_with(|| {
        // Leaked: a handful of module texts per process, alive as long as the pipelines.
        let family = Box::leak(format!("{}.{}", base.family, storage.label()).into_boxed_str());
        let source = Box::leak(rewrite(base.source, storage).into_boxed_str());
        Shader { family, source, guards_own_indices: base.guards_own_indices }
    })
}

/// The operand bindings as the matmul shaders declare them, and how a load of each widens.
const OPERANDS: [(&str, &str, &str); 4] = [
    ("var<storage, read> a: array<f32>;", "a", "f32"),
    ("var<storage, read> b: array<f32>;", "b", "f32"),
    ("var<storage, read> a4: array<vec4<f32>>;", "a4", "vec4<f32>"),
    ("var<storage, read> b4: array<vec4<f32>>;", "b4", "vec4<f32>"),
];
const OUTPUT: &str = "var<storage, read_write> c: array<f32>;";
/// C's vec4 view (`matmul_forward_shallow`'s stores).
const OUTPUT4: &str = "var<storage, read_write> c4: array<vec4<f32>>;";
/// The epilogue's tensor: written where the pre-activation is kept, read by a derivative.
const PRE: &str = "var<storage, read_write> pre: array<f32>;";

/// The f16 form of a matmul shader's text (see the module docs).
pub(super) fn rewrite(source: &str, storage: Storage) -> String {
    let mut text = source.to_string();
    let mut widen: Vec<(&str, &str)> = Vec::new();
    for (decl, name, wide) in OPERANDS {
        if (name.starts_with('a') && storage.a) || (name.starts_with('b') && storage.b) {
            assert!(text.contains(decl), "matmul shaders declare `{decl}`");
            text = text.replace(decl, &decl.replace("f32", "f16"));
            widen.push((name, wide));
        }
    }
    let mut narrow: Vec<(&str, &str)> = Vec::new();
    for (f16, decl, name, wide) in
        [(storage.c, OUTPUT, "c", "f32"), (storage.c, OUTPUT4, "c4", "vec4<f32>"), (storage.pre, PRE, "pre", "f32")]
    {
        if f16 {
            assert!(text.contains(decl), "matmul shaders declare `{decl}`");
            text = text.replace(decl, &decl.replace("f32", "f16"));
            narrow.push((name, wide));
        }
    }
    format!("enable f16;\n{}", convert(&text, &widen, &narrow))
}

/// `text` with each indexing of a `widen` binding wrapped in its conversion to f32, and for
/// each `narrow` binding (read_write; its f32 type beside it), each store `x[i] = v;` made
/// `x[i] = f16(v);` (`vec4<f16>(v)` for a vec4) and each read `f32(x[i])`. Index expressions
/// are converted too.
fn convert(text: &str, widen: &[(&str, &str)], narrow: &[(&str, &str)]) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut i = 0;
    while i < text.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'.');
        let rest = &text[i..];
        let indexes = |name: &str| rest.starts_with(name) && rest[name.len()..].starts_with('[');
        let load = widen.iter().find(|(name, _)| indexes(name));
        if let (true, Some(&(name, wide))) = (boundary, load) {
            let open = i + name.len();
            let close = matching(text, open);
            out.push_str(&format!("{wide}({name}[{}])", convert(&text[open + 1..close], widen, narrow)));
            i = close + 1;
            continue;
        }
        if let (true, Some(&(name, wide))) = (boundary, narrow.iter().find(|(name, _)| indexes(name))) {
            let open = i + name.len();
            let close = matching(text, open);
            let index = convert(&text[open + 1..close], widen, narrow);
            if let Some(assign) = text[close + 1..].strip_prefix(" = ") {
                let end = close + 1 + 3 + statement_end(assign);
                let value = convert(&text[close + 4..end], widen, narrow);
                out.push_str(&format!("{name}[{index}] = {}({value})", wide.replace("f32", "f16")));
                i = end;
            } else {
                out.push_str(&format!("{wide}({name}[{index}])"));
                i = close + 1;
            }
            continue;
        }
        let ch = rest.chars().next().expect("i < len");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The index of the `]` matching the `[` at `open`.
fn matching(text: &str, open: usize) -> usize {
    let mut depth = 0;
    for (j, ch) in text[open..].char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return open + j;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets in a matmul shader at byte {open}")
}

/// The length of `s` up to its first `;` outside brackets and parentheses.
fn statement_end(s: &str) -> usize {
    let mut depth = 0i32;
    for (j, ch) in s.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ';' if depth == 0 => return j,
            _ => {}
        }
    }
    panic!("a store to C without its `;` in a matmul shader")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_widen_stores_narrow_and_nothing_else_changes() {
        let all = Storage { a: true, b: true, c: true, pre: false };
        let src = "var<storage, read> a: array<f32>;\nvar<storage, read> b4: array<vec4<f32>>;\n\
                   var<storage, read_write> c: array<f32>;\nvar<storage, read> a4: array<vec4<f32>>;\n\
                   var<storage, read> b: array<f32>;\nvar<storage, read_write> c4: array<vec4<f32>>;\n\
                   let x = a[b_off[i] + a[j]] * tile_b[k] + acc[c] + b4[i / 4u][i % 4u];\n\
                   c[row * p.n + col] = epilogue(a4[i], min(r, p.m - 1u));\n\
                   c4[(row * p.n + col) / 4u] = r;\n";
        let got = rewrite(src, all);
        assert!(got.starts_with("enable f16;\n"));
        assert!(got.contains("a: array<f16>;") && got.contains("b4: array<vec4<f16>>;") && got.contains("c: array<f16>;"));
        assert!(got.contains("let x = f32(a[b_off[i] + f32(a[j])]) * tile_b[k] + acc[c] + vec4<f32>(b4[i / 4u])[i % 4u];"), "{got}");
        assert!(got.contains("c[row * p.n + col] = f16(epilogue(vec4<f32>(a4[i]), min(r, p.m - 1u)));"), "{got}");
        assert!(got.contains("c4: array<vec4<f16>>;") && got.contains("c4[(row * p.n + col) / 4u] = vec4<f16>(r);"), "{got}");
        // Only B in f16: A's loads are untouched.
        let b_only = rewrite(src, Storage { b: true, ..Storage::F32 });
        assert!(b_only.contains("let x = a[b_off[i] + a[j]] * tile_b[k] + acc[c] + vec4<f32>(b4[i / 4u])[i % 4u];"));
        assert!(b_only.contains("c[row * p.n + col] = epilogue(a4[i], min(r, p.m - 1u));"));
    }

    #[test]
    fn the_epilogue_tensor_is_read_widened_and_stored_narrowed() {
        let src = "var<storage, read_write> pre: array<f32>;\nvar<storage, read_write> c: array<f32>;\n\
                   r *= act_derivative(E, pre[row * p.n + col], p.alpha);\n\
                   pre[row * p.n + col] = r;\nc[i] = r;\n";
        let got = rewrite(src, Storage { pre: true, ..Storage::F32 });
        assert!(got.contains("pre: array<f16>;") && got.contains("c: array<f32>;"), "{got}");
        assert!(got.contains("act_derivative(E, f32(pre[row * p.n + col]), p.alpha)"), "{got}");
        assert!(got.contains("pre[row * p.n + col] = f16(r);\nc[i] = r;"), "{got}");
    }

    #[test]
    fn storage_indices_are_distinct() {
        let storage = |i: usize| Storage { a: i & 1 != 0, b: i & 2 != 0, c: i & 4 != 0, pre: i & 8 != 0 };
        let mut seen: Vec<usize> = (0..Storage::COUNT).map(|i| storage(i).index()).collect();
        seen.sort();
        assert_eq!(seen, (0..Storage::COUNT).collect::<Vec<_>>());
        assert_eq!(storage(8).label(), "f32·f32→f32, pre f16");
        assert_eq!(Storage::of(DType::F16, DType::F32, DType::F16).label(), "f16·f32→f16");
    }
}
