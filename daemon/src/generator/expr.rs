//! The size-expression language of `zram-size`, `zram-resident-limit` and `set!` outputs.
//!
//! It is the language zram-generator documents (its expressions come from the `fasteval` crate), so
//! that existing configurations keep their meaning:
//! - numbers `4096`, `0.75`, `1e3`, with an optional SI suffix `p n u µ m k K M G T`
//!   (`500k` is 500 000, `2G` is 2e9);
//! - variables: `ram` (MemTotal in MiB) and those set by `set!NAME`;
//! - binary operators, lowest precedence first: `||`/`or`, `&&`/`and`,
//!   `< <= == != >= >`, `+ -`, `* / %`, `^` (right-associative);
//! - unary `-`, `+`, `!`, which bind tighter than `^` (so `-2^2` is 4, as in fasteval);
//! - parentheses `( )` or brackets `[ ]`;
//! - functions `min(..)`, `max(..)`, `abs`, `sign`, `int`, `ceil`, `floor`, `round([modulus,] x)`,
//!   `log([base,] x)` (base 10 by default), `e()`, `pi()`, and the trigonometric and hyperbolic
//!   functions `sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh`.
//!
//! Comparisons give 1 or 0; `a && b` gives `a` when it is 0, else `b`; `a || b` gives `a` when it is
//! not 0, else `b`. Arithmetic is in `f64`, so a division by zero gives an infinity or NaN, which the
//! caller judges.

use std::collections::BTreeMap;
use std::fmt;

/// Nesting deeper than this is refused, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
/// More operators and calls than this are refused: a long chain `1+1+...` nests as deeply in the
/// tree as parentheses do, and evaluation recurses over the tree.
const MAX_OPERATIONS: usize = 256;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    node: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Number(f64),
    Variable(String),
    Unary(UnaryOp, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// `||` and `&&`, which short-circuit.
    Logic(LogicOp, Box<Node>, Box<Node>),
    Call(Function, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum UnaryOp {
    Negate,
    Plus,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LogicOp {
    Or,
    And,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BinaryOp {
    Less,
    LessEqual,
    Equal,
    NotEqual,
    GreaterEqual,
    Greater,
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
    Power,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Function {
    Min,
    Max,
    Abs,
    Sign,
    Int,
    Ceil,
    Floor,
    Round,
    Log,
    E,
    Pi,
    /// A one-argument function of `f64`, by its name in the language.
    Unary(&'static str),
}

/// Why an expression could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprError {
    /// The text ended where an operand was expected.
    UnexpectedEnd,
    /// A character that starts no token, at a byte offset.
    UnexpectedChar {
        /// The character.
        ch: char,
        /// Its byte offset in the expression.
        offset: usize,
    },
    /// Text left over after a complete expression, at a byte offset.
    TrailingInput {
        /// Byte offset of the first unparsed character.
        offset: usize,
    },
    /// A function name that the language does not have.
    UnknownFunction(String),
    /// A function called with the wrong number of arguments.
    Arity {
        /// The function.
        name: String,
        /// What it accepts.
        expected: &'static str,
        /// How many it got.
        got: usize,
    },
    /// A variable that is not defined.
    Undefined(String),
    /// Parentheses nested deeper than the parser allows.
    TooDeep,
    /// More operations than the parser allows.
    TooLong,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd => f.write_str("expression ends where an operand was expected"),
            Self::UnexpectedChar { ch, offset } => {
                write!(f, "unexpected character {ch:?} at offset {offset}")
            }
            Self::TrailingInput { offset } => {
                write!(f, "unexpected text after the expression at offset {offset}")
            }
            Self::UnknownFunction(name) => write!(f, "unknown function {name}()"),
            Self::Arity {
                name,
                expected,
                got,
            } => write!(f, "{name}() takes {expected} argument(s), got {got}"),
            Self::Undefined(name) => write!(f, "undefined variable {name:?}"),
            Self::TooDeep => write!(f, "expression nested deeper than {MAX_DEPTH} levels"),
            Self::TooLong => write!(f, "expression has more than {MAX_OPERATIONS} operations"),
        }
    }
}

impl std::error::Error for ExprError {}

impl Expr {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, ExprError> {
        let mut parser = Parser {
            text,
            pos: 0,
            depth: 0,
            operations: 0,
        };
        let node = parser.parse_or()?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(ExprError::TrailingInput { offset: parser.pos });
        }
        Ok(Self { node })
    }

    /// Evaluates the expression with `variables` (`ram` among them).
    pub fn eval(&self, variables: &BTreeMap<String, f64>) -> Result<f64, ExprError> {
        eval(&self.node, variables)
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    operations: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes `token` (after white space) when the text continues with it.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// Consumes a word operator such as `and`, only when no identifier character follows it.
    fn eat_word(&mut self, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        let follows_identifier = rest
            .get(word.len()..)
            .and_then(|r| r.chars().next())
            .is_some_and(is_identifier_char);
        if rest.starts_with(word) && !follows_identifier {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Counts one more operator or call in the tree.
    fn count_operation(&mut self) -> Result<(), ExprError> {
        self.operations += 1;
        if self.operations > MAX_OPERATIONS {
            Err(ExprError::TooLong)
        } else {
            Ok(())
        }
    }

    fn nest<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(ExprError::TooDeep);
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn parse_or(&mut self) -> Result<Node, ExprError> {
        self.nest(|p| {
            let mut left = p.parse_and()?;
            while p.eat("||") || p.eat_word("or") {
                let right = p.parse_and()?;
                p.count_operation()?;
                left = Node::Logic(LogicOp::Or, Box::new(left), Box::new(right));
            }
            Ok(left)
        })
    }

    fn parse_and(&mut self) -> Result<Node, ExprError> {
        let mut left = self.parse_comparison()?;
        while self.eat("&&") || self.eat_word("and") {
            let right = self.parse_comparison()?;
            self.count_operation()?;
            left = Node::Logic(LogicOp::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_comparison(&mut self) -> Result<Node, ExprError> {
        let mut left = self.parse_additive()?;
        loop {
            // Two-character operators first, so that `<=` is not read as `<`.
            let op = if self.eat("<=") {
                BinaryOp::LessEqual
            } else if self.eat(">=") {
                BinaryOp::GreaterEqual
            } else if self.eat("==") {
                BinaryOp::Equal
            } else if self.eat("!=") {
                BinaryOp::NotEqual
            } else if self.eat("<") {
                BinaryOp::Less
            } else if self.eat(">") {
                BinaryOp::Greater
            } else {
                return Ok(left);
            };
            let right = self.parse_additive()?;
            self.count_operation()?;
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_additive(&mut self) -> Result<Node, ExprError> {
        let mut left = self.parse_multiplicative()?;
        loop {
            let op = if self.eat("+") {
                BinaryOp::Add
            } else if self.eat("-") {
                BinaryOp::Subtract
            } else {
                return Ok(left);
            };
            let right = self.parse_multiplicative()?;
            self.count_operation()?;
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_multiplicative(&mut self) -> Result<Node, ExprError> {
        let mut left = self.parse_power()?;
        loop {
            let op = if self.eat("*") {
                BinaryOp::Multiply
            } else if self.eat("/") {
                BinaryOp::Divide
            } else if self.eat("%") {
                BinaryOp::Remainder
            } else {
                return Ok(left);
            };
            let right = self.parse_power()?;
            self.count_operation()?;
            left = Node::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn parse_power(&mut self) -> Result<Node, ExprError> {
        let base = self.parse_unary()?;
        if self.eat("^") {
            let exponent = self.nest(Self::parse_power)?;
            self.count_operation()?;
            return Ok(Node::Binary(
                BinaryOp::Power,
                Box::new(base),
                Box::new(exponent),
            ));
        }
        Ok(base)
    }

    fn parse_unary(&mut self) -> Result<Node, ExprError> {
        let op = if self.eat("-") {
            UnaryOp::Negate
        } else if self.eat("+") {
            UnaryOp::Plus
        } else if self.rest().starts_with("!=") {
            return self.parse_primary();
        } else if self.eat("!") {
            UnaryOp::Not
        } else {
            return self.parse_primary();
        };
        let operand = self.nest(Self::parse_unary)?;
        self.count_operation()?;
        Ok(Node::Unary(op, Box::new(operand)))
    }

    fn parse_primary(&mut self) -> Result<Node, ExprError> {
        self.skip_space();
        let start = self.pos;
        let Some(first) = self.rest().chars().next() else {
            return Err(ExprError::UnexpectedEnd);
        };
        if first == '(' || first == '[' {
            let close = if first == '(' { ")" } else { "]" };
            self.pos += 1;
            let inner = self.nest(Self::parse_or)?;
            if !self.eat(close) {
                return Err(self.unexpected());
            }
            return Ok(inner);
        }
        if first.is_ascii_digit() || first == '.' {
            return self.parse_number();
        }
        if is_identifier_start(first) {
            let name_len = self
                .rest()
                .find(|c: char| !is_identifier_char(c))
                .unwrap_or(self.rest().len());
            let name = self.rest().get(..name_len).unwrap_or("").to_string();
            self.pos += name_len;
            if self.eat("(") {
                let args = self.nest(Self::parse_arguments)?;
                self.count_operation()?;
                let function = function_named(&name)?;
                check_arity(&name, function, args.len())?;
                return Ok(Node::Call(function, args));
            }
            return Ok(Node::Variable(name));
        }
        self.pos = start;
        Err(self.unexpected())
    }

    /// Reads comma-separated arguments up to the closing parenthesis (already past the opening one).
    fn parse_arguments(&mut self) -> Result<Vec<Node>, ExprError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.parse_or()?);
            if self.eat(")") {
                return Ok(args);
            }
            if !self.eat(",") {
                return Err(self.unexpected());
            }
        }
    }

    fn parse_number(&mut self) -> Result<Node, ExprError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut len = bytes
            .iter()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .count();
        // An exponent only when digits follow it, so that a bare `e` stays an error, not a number.
        if matches!(bytes.get(len), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(len + 1), Some(b'+' | b'-')));
            let digits = bytes
                .iter()
                .skip(len + 1 + sign)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                len += 1 + sign + digits;
            }
        }
        let literal = rest.get(..len).unwrap_or("");
        let mut value: f64 = literal.parse().map_err(|_| ExprError::UnexpectedChar {
            ch: rest.chars().next().unwrap_or('.'),
            offset: self.pos,
        })?;
        self.pos += len;
        if let Some(suffix) = self.rest().chars().next() {
            let scale = match suffix {
                'p' => Some(1e-12),
                'n' => Some(1e-9),
                'u' | 'µ' => Some(1e-6),
                'm' => Some(1e-3),
                'k' | 'K' => Some(1e3),
                'M' => Some(1e6),
                'G' => Some(1e9),
                'T' => Some(1e12),
                _ => None,
            };
            if let Some(scale) = scale {
                value *= scale;
                self.pos += suffix.len_utf8();
            }
        }
        Ok(Node::Number(value))
    }

    fn unexpected(&mut self) -> ExprError {
        self.skip_space();
        match self.rest().chars().next() {
            Some(ch) => ExprError::UnexpectedChar {
                ch,
                offset: self.pos,
            },
            None => ExprError::UnexpectedEnd,
        }
    }
}

fn is_identifier_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn function_named(name: &str) -> Result<Function, ExprError> {
    Ok(match name {
        "min" => Function::Min,
        "max" => Function::Max,
        "abs" => Function::Abs,
        "sign" => Function::Sign,
        "int" => Function::Int,
        "ceil" => Function::Ceil,
        "floor" => Function::Floor,
        "round" => Function::Round,
        "log" => Function::Log,
        "e" => Function::E,
        "pi" => Function::Pi,
        "sin" => Function::Unary("sin"),
        "cos" => Function::Unary("cos"),
        "tan" => Function::Unary("tan"),
        "asin" => Function::Unary("asin"),
        "acos" => Function::Unary("acos"),
        "atan" => Function::Unary("atan"),
        "sinh" => Function::Unary("sinh"),
        "cosh" => Function::Unary("cosh"),
        "tanh" => Function::Unary("tanh"),
        "asinh" => Function::Unary("asinh"),
        "acosh" => Function::Unary("acosh"),
        "atanh" => Function::Unary("atanh"),
        _ => return Err(ExprError::UnknownFunction(name.to_string())),
    })
}

fn check_arity(name: &str, function: Function, got: usize) -> Result<(), ExprError> {
    let (ok, expected) = match function {
        Function::Min | Function::Max => (got >= 1, "one or more"),
        Function::Round | Function::Log => ((1..=2).contains(&got), "one or two"),
        Function::E | Function::Pi => (got == 0, "no"),
        Function::Abs
        | Function::Sign
        | Function::Int
        | Function::Ceil
        | Function::Floor
        | Function::Unary(_) => (got == 1, "one"),
    };
    if ok {
        Ok(())
    } else {
        Err(ExprError::Arity {
            name: name.to_string(),
            expected,
            got,
        })
    }
}

fn truth(value: bool) -> f64 {
    if value { 1.0 } else { 0.0 }
}

fn eval(node: &Node, variables: &BTreeMap<String, f64>) -> Result<f64, ExprError> {
    Ok(match node {
        Node::Number(value) => *value,
        Node::Variable(name) => *variables
            .get(name)
            .ok_or_else(|| ExprError::Undefined(name.clone()))?,
        Node::Unary(op, operand) => {
            let value = eval(operand, variables)?;
            match op {
                UnaryOp::Negate => -value,
                UnaryOp::Plus => value,
                UnaryOp::Not => truth(value == 0.0),
            }
        }
        Node::Logic(LogicOp::Or, left, right) => {
            let value = eval(left, variables)?;
            if value != 0.0 {
                value
            } else {
                eval(right, variables)?
            }
        }
        Node::Logic(LogicOp::And, left, right) => {
            let value = eval(left, variables)?;
            if value == 0.0 {
                value
            } else {
                eval(right, variables)?
            }
        }
        Node::Binary(op, left, right) => {
            let a = eval(left, variables)?;
            let b = eval(right, variables)?;
            match op {
                BinaryOp::Less => truth(a < b),
                BinaryOp::LessEqual => truth(a <= b),
                BinaryOp::Equal => truth(a == b),
                BinaryOp::NotEqual => truth(a != b),
                BinaryOp::GreaterEqual => truth(a >= b),
                BinaryOp::Greater => truth(a > b),
                BinaryOp::Add => a + b,
                BinaryOp::Subtract => a - b,
                BinaryOp::Multiply => a * b,
                BinaryOp::Divide => a / b,
                BinaryOp::Remainder => a % b,
                BinaryOp::Power => a.powf(b),
            }
        }
        Node::Call(function, args) => {
            let values = args
                .iter()
                .map(|arg| eval(arg, variables))
                .collect::<Result<Vec<f64>, _>>()?;
            call(*function, &values)
        }
    })
}

fn call(function: Function, values: &[f64]) -> f64 {
    let first = values.first().copied().unwrap_or(f64::NAN);
    let last = values.last().copied().unwrap_or(f64::NAN);
    match function {
        Function::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
        Function::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Function::Abs => first.abs(),
        Function::Sign => {
            if first.is_nan() || first == 0.0 {
                first
            } else {
                first.signum()
            }
        }
        Function::Int => first.trunc(),
        Function::Ceil => first.ceil(),
        Function::Floor => first.floor(),
        Function::Round => {
            // round(x) or round(modulus, x): to the nearest multiple of the modulus.
            let modulus = if values.len() == 2 { first } else { 1.0 };
            (last / modulus).round() * modulus
        }
        Function::Log => {
            // log10 and log2 are exact on powers of their base, where log(base) is not.
            match (values.len(), first) {
                (1, _) => last.log10(),
                (_, 10.0) => last.log10(),
                (_, 2.0) => last.log2(),
                (_, base) => last.ln() / base.ln(),
            }
        }
        Function::E => std::f64::consts::E,
        Function::Pi => std::f64::consts::PI,
        Function::Unary(name) => unary(name, first),
    }
}

fn unary(name: &str, x: f64) -> f64 {
    match name {
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "tanh" => x.tanh(),
        "asinh" => x.asinh(),
        "acosh" => x.acosh(),
        "atanh" => x.atanh(),
        // function_named() creates only the names above.
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> f64 {
        let mut vars = BTreeMap::new();
        vars.insert("ram".to_string(), 1000.0);
        vars.insert("two".to_string(), 2.0);
        Expr::parse(text).unwrap().eval(&vars).unwrap()
    }

    #[test]
    fn arithmetic_and_precedence() {
        assert_eq!(value("1 + 2 * 3"), 7.0);
        assert_eq!(value("(1 + 2) * 3"), 9.0);
        assert_eq!(value("[1 + 2] * 3"), 9.0);
        assert_eq!(value("10 - 4 - 3"), 3.0);
        assert_eq!(value("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(value("-2 ^ 2"), 4.0);
        assert_eq!(value("7 % 4"), 3.0);
        assert_eq!(value("ram / 2"), 500.0);
        assert_eq!(value("ram * two / 4"), 500.0);
        assert_eq!(value("--3"), 3.0);
    }

    #[test]
    fn functions() {
        assert_eq!(value("min(ram / 2, 4096)"), 500.0);
        assert_eq!(value("max(1, -2, 3, -4)"), 3.0);
        assert_eq!(value("min(1, -2, 3, -4)"), -4.0);
        assert_eq!(
            value("min(min(ram, 4096) + max(ram - 4096, 0) / 2, 32 * 1024)"),
            1000.0
        );
        assert_eq!(
            value("abs(-3) + sign(-9) + int(2.7) + ceil(1.2) + floor(1.8)"),
            7.0
        );
        assert_eq!(value("round(1.5)"), 2.0);
        assert_eq!(value("round(0.25, 1.3)"), 1.25);
        assert_eq!(value("log(1000)"), 3.0);
        assert_eq!(value("log(2, 1024)"), 10.0);
        assert_eq!(value("floor(e() * 1000)"), 2718.0);
        assert_eq!(value("floor(pi() * 1000)"), 3141.0);
        assert_eq!(value("cos(0) + sinh(0)"), 1.0);
    }

    #[test]
    fn numbers_and_suffixes() {
        assert_eq!(value("500k"), 500_000.0);
        assert_eq!(value("32G"), 32e9);
        assert_eq!(value("2M + 1K"), 2_001_000.0);
        assert_eq!(value("1e3"), 1000.0);
        assert_eq!(value("1.5e-1 * 10"), 1.5);
        assert_eq!(value(".5"), 0.5);
        assert_eq!(value("4000m"), 4.0);
    }

    #[test]
    fn logic_and_comparisons() {
        assert_eq!(value("1 < 2"), 1.0);
        assert_eq!(value("2 <= 1"), 0.0);
        assert_eq!(value("2 == 2 && 7"), 7.0);
        assert_eq!(value("0 || 5"), 5.0);
        assert_eq!(value("0 or 5"), 5.0);
        assert_eq!(value("3 and 0"), 0.0);
        assert_eq!(value("!0 + (1 != 2)"), 2.0);
        assert_eq!(value("(ram > 512) * 100"), 100.0);
    }

    #[test]
    fn division_by_zero_is_not_an_error() {
        assert!(value("(ram - 1000) / 0").is_nan());
        assert_eq!(value("ram / 0"), f64::INFINITY);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let vars = BTreeMap::new();
        assert_eq!(Expr::parse(""), Err(ExprError::UnexpectedEnd));
        assert_eq!(Expr::parse("1 +"), Err(ExprError::UnexpectedEnd));
        assert_eq!(
            Expr::parse("1 2"),
            Err(ExprError::TrailingInput { offset: 2 })
        );
        assert_eq!(Expr::parse("2 * (3"), Err(ExprError::UnexpectedEnd));
        assert_eq!(
            Expr::parse("ram # 2"),
            Err(ExprError::TrailingInput { offset: 4 })
        );
        assert_eq!(
            Expr::parse("array(1, 2)"),
            Err(ExprError::UnknownFunction("array".into()))
        );
        assert!(matches!(Expr::parse("min()"), Err(ExprError::Arity { .. })));
        assert!(matches!(Expr::parse("pi(1)"), Err(ExprError::Arity { .. })));
        assert_eq!(
            Expr::parse("ram").unwrap().eval(&vars),
            Err(ExprError::Undefined("ram".into()))
        );
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(Expr::parse(&deep), Err(ExprError::TooDeep));
        let negations = format!("{}1", "-".repeat(10_000));
        assert_eq!(Expr::parse(&negations), Err(ExprError::TooDeep));
        let powers = format!("1{}", "^1".repeat(10_000));
        assert_eq!(Expr::parse(&powers), Err(ExprError::TooDeep));
        let chain = format!("1{}", "+1".repeat(100_000));
        assert_eq!(Expr::parse(&chain), Err(ExprError::TooLong));
        assert_eq!(value(&format!("1{}", "+1".repeat(255))), 256.0);
    }

    /// Random text over the language's alphabet never panics, in parsing or evaluation.
    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "0123456789.e+-*/%^()[],<>=!&| ramxkKMGTµminaxlogpiund_\\"
            .chars()
            .collect();
        let mut vars = BTreeMap::new();
        vars.insert("ram".to_string(), 1000.0);
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut text = String::new();
            // xorshift: a fixed sequence, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            for _ in 0..(state % 40) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(alphabet[usize::try_from(state % alphabet.len() as u64).unwrap()]);
            }
            if let Ok(expr) = Expr::parse(&text) {
                let _ = expr.eval(&vars);
            }
        }
    }
}
