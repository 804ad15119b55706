//! What exactly is wrong, for the errors that say more than a code:
//! a metafield, a profile field, a password-policy rule. Below `error`.

/// What is wrong with a metafield or its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetafieldProblem {
    NotDeclared,
    ReadOnly,
    WrongType(&'static str),
    BadValue(&'static str),
    ValueTooLong(usize),
    TooMany(usize),
    BadIdentifier,
    UnknownType,
    Repeated,
}

impl std::fmt::Display for MetafieldProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotDeclared => f.write_str("is not a metafield this project declares"),
            Self::ReadOnly => f.write_str("is read-only for customers"),
            Self::WrongType(t) => write!(f, "does not match the declared type {t}"),
            Self::BadValue(t) => write!(f, "is not a valid {t} value"),
            Self::ValueTooLong(n) => write!(f, "is too long (at most {n} bytes)"),
            Self::TooMany(n) => write!(f, "is one too many (at most {n})"),
            Self::BadIdentifier => {
                f.write_str("must be 2 to 64 (a key) or 255 (a namespace) of A-Z a-z 0-9 _ -")
            }
            Self::UnknownType => f.write_str("is not a supported metafield type"),
            Self::Repeated => f.write_str("is given twice"),
        }
    }
}

/// What is wrong with a profile field (a name, the phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileProblem {
    TooLong(usize),
    ContainsHtmlTags,
    ContainsUrl,
    Invalid,
}

impl std::fmt::Display for ProfileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLong(n) => write!(f, "is too long (at most {n} characters)"),
            Self::ContainsHtmlTags => f.write_str("cannot contain HTML tags"),
            Self::ContainsUrl => f.write_str("cannot contain a URL"),
            Self::Invalid => f.write_str("is invalid"),
        }
    }
}

/// A password-policy rule, named in the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRule {
    MinLength(u32),
    MaxLength(usize),
    Uppercase,
    Lowercase,
    Number,
    SpecialChar,
}

impl std::fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MinLength(n) => write!(f, "at least {n} characters"),
            Self::MaxLength(n) => write!(f, "at most {n} bytes"),
            Self::Uppercase => f.write_str("an uppercase letter"),
            Self::Lowercase => f.write_str("a lowercase letter"),
            Self::Number => f.write_str("a number"),
            Self::SpecialChar => f.write_str("a special character"),
        }
    }
}
