//! The pickle reader. It is not a Python unpickler: it understands just the opcodes NumPy's
//! `ndarray.__reduce__` produces under protocols 2–5 ([`op`]) and four globals —
//! `numpy.core.multiarray._reconstruct` (or `numpy._core…` since NumPy 2), `numpy.ndarray`,
//! `numpy.dtype`, and protocol 5's `numpy.core.numeric._frombuffer`. Nothing is ever called or
//! executed, and anything else is refused with the byte offset where it was found. Arrays may
//! be `f2`, `f4` or `f8` in either byte order, C or Fortran order (`f2`, the sequel's float16,
//! is widened to float32 exactly); every length is checked against the bytes actually present.
//! Besides arrays, the values around them are read as plain data ([`PickleValue`]): `None`,
//! bools, ints, strs, tuples, lists and dicts, as the sequel's `cbow_params.pkl` and
//! `Rnnlm.pkl` hold them.

use std::collections::HashMap;
use std::rc::Rc;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use super::{NamedArrays, NumpyArray};
use crate::error::DataError;

/// The opcodes read (the names of CPython's `pickletools`); any other is refused.
mod op {
    /// protocol version (2+)
    pub const PROTO: u8 = 0x80;
    /// a frame's length (protocol 4+)
    pub const FRAME: u8 = 0x95;
    /// end of the pickle
    pub const STOP: u8 = b'.';
    /// a mark on the stack
    pub const MARK: u8 = b'(';
    /// `{}`
    pub const EMPTY_DICT: u8 = b'}';
    /// `[]`
    pub const EMPTY_LIST: u8 = b']';
    /// `list.append(v)`
    pub const APPEND: u8 = b'a';
    /// `list.extend` with the values since the mark
    pub const APPENDS: u8 = b'e';
    /// `()`
    pub const EMPTY_TUPLE: u8 = b')';
    /// `None`
    pub const NONE: u8 = b'N';
    /// `True`
    pub const NEWTRUE: u8 = 0x88;
    /// `False`
    pub const NEWFALSE: u8 = 0x89;
    /// a 1-byte unsigned int
    pub const BININT1: u8 = b'K';
    /// a 2-byte unsigned int
    pub const BININT2: u8 = b'M';
    /// a 4-byte signed int
    pub const BININT: u8 = b'J';
    /// a str, 4-byte length
    pub const BINUNICODE: u8 = b'X';
    /// a str, 1-byte length
    pub const SHORT_BINUNICODE: u8 = 0x8c;
    /// a str, 8-byte length
    pub const BINUNICODE8: u8 = 0x8d;
    /// bytes, 1-byte length
    pub const SHORT_BINBYTES: u8 = b'C';
    /// bytes, 4-byte length
    pub const BINBYTES: u8 = b'B';
    /// bytes, 8-byte length
    pub const BINBYTES8: u8 = 0x8e;
    /// a bytearray, 8-byte length (protocol 5)
    pub const BYTEARRAY8: u8 = 0x96;
    /// `module\nname\n` of a global
    pub const GLOBAL: u8 = b'c';
    /// a global from two strs on the stack
    pub const STACK_GLOBAL: u8 = 0x93;
    /// a tuple of the items since the mark
    pub const TUPLE: u8 = b't';
    /// a tuple of the top item
    pub const TUPLE1: u8 = 0x85;
    /// a tuple of the top two
    pub const TUPLE2: u8 = 0x86;
    /// a tuple of the top three
    pub const TUPLE3: u8 = 0x87;
    /// store the top in the memo, 1-byte key
    pub const BINPUT: u8 = b'q';
    /// store, 4-byte key
    pub const LONG_BINPUT: u8 = b'r';
    /// store under the next key
    pub const MEMOIZE: u8 = 0x94;
    /// push from the memo, 1-byte key
    pub const BINGET: u8 = b'h';
    /// push, 4-byte key
    pub const LONG_BINGET: u8 = b'j';
    /// `dict[k] = v`
    pub const SETITEM: u8 = b's';
    /// `dict[k] = v` for the pairs since the mark
    pub const SETITEMS: u8 = b'u';
    /// `callable(*args)`
    pub const REDUCE: u8 = b'R';
    /// `obj.__setstate__(state)`
    pub const BUILD: u8 = b'b';
}

/// The globals a NumPy array pickle names; nothing else is accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    Reconstruct,
    NdArray,
    Dtype,
    /// Protocol 5's `numpy._core.numeric._frombuffer(buffer, dtype, shape, order)`.
    FromBuffer,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    F16,
    F32,
    F64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Little,
    Big,
}

#[derive(Debug, Clone, PartialEq)]
struct Dtype {
    element: Element,
    order: Order,
}

/// A value on the unpickler's stack. Byte strings are ranges into the input: nothing the
/// file claims is allocated before it is known to be there.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Mark,
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    Bytes(usize, usize),
    Tuple(Rc<[Value]>),
    Dict(Vec<(Value, Value)>),
    List(Vec<Value>),
    Global(Global),
    Dtype(Rc<Dtype>),
    /// `_reconstruct(ndarray, (0,), b'b')`: an empty array waiting for its BUILD state.
    EmptyArray,
    Array(Rc<NumpyArray>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Mark => "mark",
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "str",
            Value::Bytes(..) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::List(_) => "list",
            Value::Global(_) => "global",
            Value::Dtype(_) => "dtype",
            Value::EmptyArray => "empty ndarray",
            Value::Array(_) => "ndarray",
        }
    }
}

/// Bounds that keep a hostile file from exhausting memory through the stack or memo.
const MAX_STACK: usize = 1 << 16;
const MAX_MEMO: usize = 1 << 16;
const MAX_ELEMENTS: u64 = 1 << 31;

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    file: &'a str,
    stack: Vec<Value>,
    /// Start of each open MARK in `stack`.
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
}

/// A pickled value as plain data: what [`parse_pickle_value`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A str.
    Str(String),
    /// A tuple.
    Tuple(Vec<PickleValue>),
    /// A dict's entries in the order the pickle set them.
    Dict(Vec<(PickleValue, PickleValue)>),
    /// A list.
    List(Vec<PickleValue>),
    /// A NumPy array.
    Array(NumpyArray),
}

impl PickleValue {
    /// The entry of a dict whose key is the str `key`.
    pub fn get(&self, key: &str) -> Option<&PickleValue> {
        match self {
            PickleValue::Dict(items) => items
                .iter()
                .find(|(k, _)| matches!(k, PickleValue::Str(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Takes the entry of a dict whose key is the str `key` out of it.
    pub fn take(&mut self, key: &str) -> Option<PickleValue> {
        match self {
            PickleValue::Dict(items) => {
                let i = items
                    .iter()
                    .position(|(k, _)| matches!(k, PickleValue::Str(s) if s == key))?;
                Some(items.remove(i).1)
            }
            _ => None,
        }
    }
}

/// Parses any pickle this reader understands into plain data; `file` names it in errors.
///
/// # Errors
/// [`DataError::Pickle`] naming the byte offset and what was found there, as
/// [`parse_pickle`]; a pickle whose value is not plain data (a bare global or dtype) too.
pub fn parse_pickle_value(data: &[u8], file: &str) -> Result<PickleValue, DataError> {
    let mut u = Unpickler::new(data, file);
    let top = u.run()?;
    plain(&u, top)
}

fn plain(u: &Unpickler<'_>, v: Value) -> Result<PickleValue, DataError> {
    Ok(match v {
        Value::None => PickleValue::None,
        Value::Bool(b) => PickleValue::Bool(b),
        Value::Int(i) => PickleValue::Int(i),
        Value::Str(s) => PickleValue::Str(s.to_string()),
        Value::Tuple(items) => PickleValue::Tuple(
            items
                .iter()
                .map(|v| plain(u, v.clone()))
                .collect::<Result<_, _>>()?,
        ),
        Value::Dict(items) => PickleValue::Dict(
            items
                .into_iter()
                .map(|(k, v)| Ok((plain(u, k)?, plain(u, v)?)))
                .collect::<Result<_, DataError>>()?,
        ),
        Value::List(items) => PickleValue::List(
            items
                .into_iter()
                .map(|v| plain(u, v))
                .collect::<Result<_, _>>()?,
        ),
        Value::Array(a) => PickleValue::Array(unshared(a)),
        other => {
            return Err(u.error(format!(
                "the pickle holds a {} where plain data was expected",
                other.kind()
            )));
        }
    })
}

/// Parses the bytes of a pickled `dict` of NumPy arrays; `file` names it in errors.
///
/// # Errors
/// [`DataError::Pickle`] naming the byte offset and what was found there, for anything that is
/// not such a pickle (other globals, other dtypes, truncation, inconsistent lengths).
pub fn parse_pickle(data: &[u8], file: &str) -> Result<NamedArrays, DataError> {
    let mut u = Unpickler::new(data, file);
    let top = u.run()?;
    let Value::Dict(items) = top else {
        return Err(u.error(format!(
            "the pickle holds a {}, expected a dict of name → ndarray",
            top.kind()
        )));
    };
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        match (k, v) {
            (Value::Str(k), Value::Array(a)) => {
                if out.iter().any(|(n, _): &(String, NumpyArray)| *n == *k) {
                    return Err(u.error(format!("key {k:?} appears twice")));
                }
                let a = unshared(a);
                out.push((k.to_string(), a));
            }
            (k, v) => {
                return Err(u.error(format!(
                    "dict entry {} → {}: expected str → ndarray",
                    k.kind(),
                    v.kind()
                )));
            }
        }
    }
    Ok(out)
}

/// The array itself, copied only if the memo still shares it.
fn unshared(a: Rc<NumpyArray>) -> NumpyArray {
    Rc::try_unwrap(a).unwrap_or_else(|shared| (*shared).clone())
}

impl<'a> Unpickler<'a> {
    fn new(data: &'a [u8], file: &'a str) -> Self {
        Unpickler {
            data,
            pos: 0,
            file,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> DataError {
        DataError::Pickle {
            file: self.file.to_string(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DataError> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            _ => Err(self.error(format!(
                "truncated: {what} needs {n} bytes, {} left",
                self.data.len() - self.pos
            ))),
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, DataError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, DataError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, DataError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64, DataError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn len_u64(&mut self, what: &str) -> Result<usize, DataError> {
        let n = self.u64(what)?;
        usize::try_from(n).map_err(|_| self.error(format!("{what}: length {n} is too large")))
    }

    fn push(&mut self, v: Value) -> Result<(), DataError> {
        if self.stack.len() >= MAX_STACK {
            return Err(self.error("stack too deep"));
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self, op: &str) -> Result<Value, DataError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.error(format!("{op}: stack is empty")));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.error(format!("{op}: stack is empty")))
    }

    fn top(&mut self, op: &str) -> Result<&mut Value, DataError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.error(format!("{op}: stack is empty")));
        }
        let pos = self.pos;
        let file = self.file;
        self.stack.last_mut().ok_or_else(|| DataError::Pickle {
            file: file.to_string(),
            offset: pos,
            reason: format!("{op}: stack is empty"),
        })
    }

    /// Everything pushed since the last MARK, which is removed.
    fn pop_mark(&mut self, op: &str) -> Result<Vec<Value>, DataError> {
        let Some(start) = self.marks.pop() else {
            return Err(self.error(format!("{op} without a MARK")));
        };
        let items = self.stack.split_off(start);
        // The MARK itself sits just below `start`.
        match self.stack.pop() {
            Some(Value::Mark) => Ok(items),
            _ => Err(self.error(format!("{op}: MARK lost"))),
        }
    }

    fn string(&mut self, n: usize, what: &str) -> Result<Value, DataError> {
        let bytes = self.take(n, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(Rc::from(s))),
            Err(_) => Err(self.error(format!("{what} is not UTF-8"))),
        }
    }

    fn bytes(&mut self, n: usize, what: &str) -> Result<Value, DataError> {
        let start = self.pos;
        self.take(n, what)?;
        Ok(Value::Bytes(start, start + n))
    }

    fn memo_put(&mut self, key: u32) -> Result<(), DataError> {
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&key) {
            return Err(self.error("memo too large"));
        }
        let v = self.top("PUT")?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), DataError> {
        match self.memo.get(&key) {
            // The memo holds a copy taken when the container was stored, not the container
            // itself: once filled, a dict or list read back from it would be stale.
            Some(Value::Dict(_) | Value::List(_)) => Err(self.error(format!(
                "GET of memo {key}, a dict or list shared between two places (not read)"
            ))),
            Some(v) => {
                let v = v.clone();
                self.push(v)
            }
            None => Err(self.error(format!("GET of memo {key}, which was never stored"))),
        }
    }

    fn global(&mut self, module: &str, name: &str) -> Result<Value, DataError> {
        let g = match (module, name) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Global::Reconstruct
            }
            ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Global::FromBuffer,
            ("numpy", "ndarray") => Global::NdArray,
            ("numpy", "dtype") => Global::Dtype,
            _ => {
                return Err(self.error(format!(
                    "refusing global {module}.{name}: only NumPy arrays are read (nothing is executed)"
                )));
            }
        };
        Ok(Value::Global(g))
    }

    fn line(&mut self, what: &str) -> Result<&'a str, DataError> {
        let rest = &self.data[self.pos..];
        let Some(end) = rest.iter().take(256).position(|&b| b == b'\n') else {
            return Err(self.error(format!("{what}: no newline within 256 bytes")));
        };
        let s = std::str::from_utf8(&rest[..end])
            .map_err(|_| self.error(format!("{what} is not UTF-8")))?;
        self.pos += end + 1;
        Ok(s)
    }

    fn run(&mut self) -> Result<Value, DataError> {
        loop {
            let code = self.u8("an opcode")?;
            match code {
                op::PROTO => {
                    let v = self.u8("the protocol")?;
                    if !(2..=5).contains(&v) {
                        return Err(self.error(format!("pickle protocol {v} (2 to 5 are read)")));
                    }
                }
                op::FRAME => {
                    // FRAME: a length hint; the frame's content follows inline.
                    let n = self.len_u64("a frame length")?;
                    if n > self.data.len() - self.pos {
                        return Err(self.error(format!("frame of {n} bytes overruns the file")));
                    }
                }
                op::STOP => {
                    let v = self.pop("STOP")?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(self.error("STOP with values left on the stack"));
                    }
                    if self.pos != self.data.len() {
                        return Err(
                            self.error(format!("{} bytes after STOP", self.data.len() - self.pos))
                        );
                    }
                    // The memo's copies are not needed any more: without them the arrays are
                    // no longer shared, and are handed out without a copy.
                    self.memo.clear();
                    return Ok(v);
                }
                op::MARK => {
                    self.push(Value::Mark)?;
                    self.marks.push(self.stack.len());
                }
                op::EMPTY_DICT => self.push(Value::Dict(Vec::new()))?,
                op::EMPTY_LIST => self.push(Value::List(Vec::new()))?,
                op::APPEND => {
                    let v = self.pop("APPEND")?;
                    self.append(vec![v])?
                }
                op::APPENDS => {
                    let items = self.pop_mark("APPENDS")?;
                    self.append(items)?
                }
                op::EMPTY_TUPLE => self.push(Value::Tuple(Rc::from(Vec::new())))?,
                op::NONE => self.push(Value::None)?,
                op::NEWTRUE => self.push(Value::Bool(true))?,
                op::NEWFALSE => self.push(Value::Bool(false))?,
                op::BININT1 => {
                    let v = self.u8("BININT1")?;
                    self.push(Value::Int(i64::from(v)))?
                }
                op::BININT2 => {
                    let v = self.u16("BININT2")?;
                    self.push(Value::Int(i64::from(v)))?
                }
                op::BININT => {
                    let v = self.u32("BININT")? as i32;
                    self.push(Value::Int(i64::from(v)))?
                }
                op::BINUNICODE => {
                    let n = self.u32("a string length")? as usize;
                    let v = self.string(n, "BINUNICODE")?;
                    self.push(v)?
                }
                op::SHORT_BINUNICODE => {
                    let n = usize::from(self.u8("a string length")?);
                    let v = self.string(n, "SHORT_BINUNICODE")?;
                    self.push(v)?
                }
                op::BINUNICODE8 => {
                    let n = self.len_u64("a string length")?;
                    let v = self.string(n, "BINUNICODE8")?;
                    self.push(v)?
                }
                op::SHORT_BINBYTES => {
                    let n = usize::from(self.u8("a bytes length")?);
                    let v = self.bytes(n, "SHORT_BINBYTES")?;
                    self.push(v)?
                }
                op::BINBYTES => {
                    let n = self.u32("a bytes length")? as usize;
                    let v = self.bytes(n, "BINBYTES")?;
                    self.push(v)?
                }
                op::BINBYTES8 | op::BYTEARRAY8 => {
                    let n = self.len_u64("a bytes length")?;
                    let v = self.bytes(n, "BINBYTES8")?;
                    self.push(v)?
                }
                op::GLOBAL => {
                    let module = self.line("GLOBAL's module")?;
                    let name = self.line("GLOBAL's name")?;
                    let g = self.global(module, name)?;
                    self.push(g)?
                }
                op::STACK_GLOBAL => {
                    let name = self.pop("STACK_GLOBAL")?;
                    let module = self.pop("STACK_GLOBAL")?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(self.error("STACK_GLOBAL needs two strings"));
                    };
                    let g = self.global(&module, &name)?;
                    self.push(g)?
                }
                op::TUPLE => {
                    let items = self.pop_mark("TUPLE")?;
                    self.push(Value::Tuple(Rc::from(items)))?
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(code - op::TUPLE1 + 1);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop("TUPLEn")?);
                    }
                    items.reverse();
                    self.push(Value::Tuple(Rc::from(items)))?
                }
                op::BINPUT => {
                    let k = self.u8("BINPUT")?;
                    self.memo_put(u32::from(k))?
                }
                op::LONG_BINPUT => {
                    let k = self.u32("LONG_BINPUT")?;
                    self.memo_put(k)?
                }
                op::MEMOIZE => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?
                }
                op::BINGET => {
                    let k = self.u8("BINGET")?;
                    self.memo_get(u32::from(k))?
                }
                op::LONG_BINGET => {
                    let k = self.u32("LONG_BINGET")?;
                    self.memo_get(k)?
                }
                op::SETITEM => {
                    let v = self.pop("SETITEM")?;
                    let k = self.pop("SETITEM")?;
                    self.set_items(vec![k, v])?
                }
                op::SETITEMS => {
                    let items = self.pop_mark("SETITEMS")?;
                    if items.len() % 2 != 0 {
                        return Err(self.error("SETITEMS with an odd number of values"));
                    }
                    self.set_items(items)?
                }
                op::REDUCE => {
                    let args = self.pop("REDUCE")?;
                    let callable = self.pop("REDUCE")?;
                    let v = self.reduce(callable, args)?;
                    self.push(v)?
                }
                op::BUILD => {
                    let state = self.pop("BUILD")?;
                    let target = self.pop("BUILD")?;
                    let v = self.build(target, state)?;
                    self.push(v)?
                }
                _ => {
                    self.pos -= 1;
                    let shown = if code.is_ascii_graphic() {
                        format!(" ({:?})", code as char)
                    } else {
                        String::new()
                    };
                    return Err(self.error(format!(
                        "unsupported pickle opcode {code:#04x}{shown}: not a pickle of NumPy arrays"
                    )));
                }
            }
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), DataError> {
        let list = self.top("APPENDS")?;
        let Value::List(values) = list else {
            let kind = list.kind();
            return Err(self.error(format!("APPENDS on a {kind}, expected a list")));
        };
        values.extend(items);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), DataError> {
        let dict = self.top("SETITEMS")?;
        let Value::Dict(entries) = dict else {
            let kind = dict.kind();
            return Err(self.error(format!("SETITEMS on a {kind}, expected a dict")));
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(())
    }

    fn reduce(&self, callable: Value, args: Value) -> Result<Value, DataError> {
        let Value::Tuple(args) = args else {
            return Err(self.error(format!("REDUCE arguments are a {}", args.kind())));
        };
        match (callable, &args[..]) {
            (
                Value::Global(Global::Reconstruct),
                [
                    Value::Global(Global::NdArray),
                    Value::Tuple(shape),
                    Value::Bytes(..),
                ],
            ) if matches!(&shape[..], [Value::Int(0)]) => Ok(Value::EmptyArray),
            (Value::Global(Global::Dtype), [Value::Str(code), align, copy])
                if is_flag(align) && is_flag(copy) =>
            {
                let element = match &**code {
                    "f2" => Element::F16,
                    "f4" => Element::F32,
                    "f8" => Element::F64,
                    other => {
                        return Err(self.error(format!(
                            "dtype {other:?}: only float16 (f2), float32 (f4) and float64 (f8) \
                             arrays are read"
                        )));
                    }
                };
                Ok(Value::Dtype(Rc::new(Dtype {
                    element,
                    order: Order::Little,
                })))
            }
            (
                Value::Global(Global::FromBuffer),
                [
                    Value::Bytes(start, end),
                    Value::Dtype(dtype),
                    Value::Tuple(shape),
                    Value::Str(order),
                ],
            ) => {
                let fortran = match &**order {
                    "C" => false,
                    "F" => true,
                    other => return Err(self.error(format!("_frombuffer order {other:?}"))),
                };
                let dims = self.dims(shape)?;
                let raw = &self.data[*start..*end];
                Ok(Value::Array(Rc::new(
                    self.array(&dims, dtype, fortran, raw)?,
                )))
            }
            (callable, _) => Err(self.error(format!(
                "REDUCE of a {} with {} arguments: not a NumPy array pickle",
                callable.kind(),
                args.len()
            ))),
        }
    }

    fn build(&self, target: Value, state: Value) -> Result<Value, DataError> {
        let Value::Tuple(state) = state else {
            return Err(self.error(format!("BUILD state is a {}", state.kind())));
        };
        match target {
            Value::Dtype(dtype) => {
                // (version, byte order, subarray, names, fields, elsize, alignment, flags[, metadata])
                let [
                    Value::Int(3 | 4),
                    Value::Str(order),
                    Value::None,
                    Value::None,
                    Value::None,
                    Value::Int(-1),
                    Value::Int(-1),
                    Value::Int(_),
                    ..,
                ] = &state[..]
                else {
                    return Err(self.error("dtype state is not that of a plain float dtype"));
                };
                let order = match &**order {
                    "<" => Order::Little,
                    ">" => Order::Big,
                    "=" if cfg!(target_endian = "little") => Order::Little,
                    "=" => Order::Big,
                    other => {
                        return Err(self.error(format!("dtype byte order {other:?}")));
                    }
                };
                Ok(Value::Dtype(Rc::new(Dtype {
                    element: dtype.element,
                    order,
                })))
            }
            Value::EmptyArray => {
                let [
                    Value::Int(1),
                    Value::Tuple(shape),
                    Value::Dtype(dtype),
                    fortran,
                    Value::Bytes(start, end),
                ] = &state[..]
                else {
                    return Err(
                        self.error("ndarray state is not (1, shape, dtype, fortran, bytes)")
                    );
                };
                let fortran = match fortran {
                    Value::Bool(b) => *b,
                    Value::Int(i @ (0 | 1)) => *i == 1,
                    other => {
                        return Err(
                            self.error(format!("ndarray Fortran flag is a {}", other.kind()))
                        );
                    }
                };
                let dims = self.dims(shape)?;
                let raw = &self.data[*start..*end];
                Ok(Value::Array(Rc::new(
                    self.array(&dims, dtype, fortran, raw)?,
                )))
            }
            other => Err(self.error(format!("BUILD of a {}", other.kind()))),
        }
    }

    fn dims(&self, shape: &[Value]) -> Result<Vec<usize>, DataError> {
        shape
            .iter()
            .map(|d| match d {
                Value::Int(d) if *d >= 0 => Ok(*d as usize),
                other => Err(self.error(format!("ndarray dimension {other:?}"))),
            })
            .collect()
    }

    fn array(
        &self,
        dims: &[usize],
        dtype: &Dtype,
        fortran: bool,
        raw: &[u8],
    ) -> Result<NumpyArray, DataError> {
        let count = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| self.error(format!("ndarray shape {dims:?} is too large")))?;
        let size = match dtype.element {
            Element::F16 => 2,
            Element::F32 => 4,
            Element::F64 => 8,
        };
        if raw.len() as u64 != count * size {
            return Err(self.error(format!(
                "ndarray of shape {dims:?} needs {} bytes of data, the pickle has {}",
                count * size,
                raw.len()
            )));
        }
        let shape = IxDyn(dims).set_f(fortran);
        let big = dtype.order == Order::Big;
        let built = match dtype.element {
            Element::F16 => {
                let v: Vec<f32> = raw
                    .chunks_exact(2)
                    .map(|b| {
                        let bits = if big {
                            u16::from_be_bytes([b[0], b[1]])
                        } else {
                            u16::from_le_bytes([b[0], b[1]])
                        };
                        half::f16::from_bits(bits).to_f32()
                    })
                    .collect();
                ArrayD::from_shape_vec(shape, v)
                    .map(|a| NumpyArray::F32(a.as_standard_layout().into_owned()))
            }
            Element::F32 => {
                let v: Vec<f32> = raw
                    .chunks_exact(4)
                    .map(|b| {
                        let b = [b[0], b[1], b[2], b[3]];
                        if big {
                            f32::from_be_bytes(b)
                        } else {
                            f32::from_le_bytes(b)
                        }
                    })
                    .collect();
                ArrayD::from_shape_vec(shape, v)
                    .map(|a| NumpyArray::F32(a.as_standard_layout().into_owned()))
            }
            Element::F64 => {
                let v: Vec<f64> = raw
                    .chunks_exact(8)
                    .map(|b| {
                        let mut a = [0u8; 8];
                        a.copy_from_slice(b);
                        if big {
                            f64::from_be_bytes(a)
                        } else {
                            f64::from_le_bytes(a)
                        }
                    })
                    .collect();
                ArrayD::from_shape_vec(shape, v)
                    .map(|a| NumpyArray::F64(a.as_standard_layout().into_owned()))
            }
        };
        built.map_err(|e| self.error(format!("ndarray of shape {dims:?}: {e}")))
    }
}

fn is_flag(v: &Value) -> bool {
    matches!(v, Value::Bool(_) | Value::Int(0 | 1))
}
