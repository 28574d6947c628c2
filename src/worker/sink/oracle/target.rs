//! A target column as the data dictionary (`ALL_TAB_COLUMNS`) describes it,
//! and the few kinds of Oracle column the sink writes: what decides each
//! value's conversion and bind type (`bind.rs`) and which job column types
//! can feed it (`table.rs`). Knows no connection and no SQL but the column's
//! own declaration (for a `CAST` in a MERGE).

use crate::format::ColumnType;

/// A column of the target table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    /// `VARCHAR2`, `NUMBER`, `CLOB`, `TIMESTAMP(6)`...
    pub data_type: String,
    /// Bytes (`DATA_LENGTH`).
    pub data_length: u32,
    /// Maximum characters for character types, 0 for others.
    pub char_length: u32,
    /// `CHAR_USED`: whether the length was declared in characters (`C`)
    /// or bytes (`B`); `None` for other types.
    pub char_semantics: Option<bool>,
    pub nullable: bool,
}

/// The kinds of column the sink writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// NUMBER and FLOAT: exact decimals.
    Number,
    /// BINARY_FLOAT, BINARY_DOUBLE.
    Binary,
    Varchar,
    NVarchar,
    /// CHAR: blank-padded comparison, so it binds as CHAR.
    Char,
    NChar,
    Clob,
    NClob,
    Date,
    Timestamp,
    /// TIMESTAMP WITH (LOCAL) TIME ZONE: a local time is taken as UTC.
    TimestampTz,
}

/// The column types the sink writes, for messages.
pub const SUPPORTED: &str = "NUMBER, FLOAT, BINARY_FLOAT, BINARY_DOUBLE, VARCHAR2, NVARCHAR2, \
     CHAR, NCHAR, CLOB, NCLOB, DATE, TIMESTAMP, TIMESTAMP WITH [LOCAL] TIME ZONE";

impl Kind {
    /// The kind of a dictionary `DATA_TYPE`; `None` for types the sink does
    /// not write (LONG, RAW, BLOB, INTERVAL, XMLTYPE, object types...).
    pub fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type {
            "NUMBER" | "FLOAT" => Kind::Number,
            "BINARY_FLOAT" | "BINARY_DOUBLE" => Kind::Binary,
            "VARCHAR2" | "VARCHAR" => Kind::Varchar,
            "NVARCHAR2" => Kind::NVarchar,
            "CHAR" => Kind::Char,
            "NCHAR" => Kind::NChar,
            "CLOB" => Kind::Clob,
            "NCLOB" => Kind::NClob,
            "DATE" => Kind::Date,
            t if t.starts_with("TIMESTAMP") && t.contains("TIME ZONE") => Kind::TimestampTz,
            t if t.starts_with("TIMESTAMP") => Kind::Timestamp,
            _ => return None,
        })
    }

    pub fn is_text(self) -> bool {
        matches!(
            self,
            Kind::Varchar | Kind::NVarchar | Kind::Char | Kind::NChar | Kind::Clob | Kind::NClob
        )
    }

    /// Whether values of a job column of type `ty` can be written here.
    /// Text can (it is converted value by value in the worker); any value
    /// can go into a text column (as its canonical text); numbers into
    /// numbers, dates and timestamps into dates and timestamps.
    pub fn accepts(self, ty: ColumnType) -> bool {
        use ColumnType as C;
        match ty {
            C::Text { .. } => true,
            _ if self.is_text() => true,
            C::Int | C::BigInt | C::Decimal { .. } | C::Float | C::Bool => {
                matches!(self, Kind::Number | Kind::Binary)
            }
            C::Date | C::Timestamp => {
                matches!(self, Kind::Date | Kind::Timestamp | Kind::TimestampTz)
            }
            // An instant needs a zoned column: a plain one would drop the zone.
            C::TimestampTz => self == Kind::TimestampTz,
        }
    }
}

impl TargetColumn {
    pub fn kind(&self) -> Option<Kind> {
        Kind::of(&self.data_type)
    }

    /// The column's character type as declared (`VARCHAR2(10 CHAR)`,
    /// `CHAR(3 BYTE)`, `NVARCHAR2(20)`), for a `CAST` of a value bound as a
    /// LOB back into it; `None` for other kinds.
    pub fn char_decl(&self) -> Option<String> {
        let kind = self.kind()?;
        let n = self.char_length.max(1);
        let semantics = |name: &str| match self.char_semantics {
            Some(false) => format!("{name}({} BYTE)", self.data_length.max(1)),
            _ => format!("{name}({n} CHAR)"),
        };
        Some(match kind {
            Kind::Varchar => semantics("VARCHAR2"),
            Kind::Char => semantics("CHAR"),
            Kind::NVarchar => format!("NVARCHAR2({n})"),
            Kind::NChar => format!("NCHAR({n})"),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, data_length: u32, chars: u32, semantics: Option<bool>) -> TargetColumn {
        TargetColumn {
            name: "c".into(),
            data_type: data_type.into(),
            data_length,
            char_length: chars,
            char_semantics: semantics,
            nullable: true,
        }
    }

    #[test]
    fn dictionary_types_map_to_kinds_and_the_rest_is_refused() {
        for (t, k) in [
            ("NUMBER", Kind::Number),
            ("FLOAT", Kind::Number),
            ("BINARY_DOUBLE", Kind::Binary),
            ("VARCHAR2", Kind::Varchar),
            ("NVARCHAR2", Kind::NVarchar),
            ("CHAR", Kind::Char),
            ("NCHAR", Kind::NChar),
            ("CLOB", Kind::Clob),
            ("NCLOB", Kind::NClob),
            ("DATE", Kind::Date),
            ("TIMESTAMP(6)", Kind::Timestamp),
            ("TIMESTAMP(9) WITH TIME ZONE", Kind::TimestampTz),
            ("TIMESTAMP(6) WITH LOCAL TIME ZONE", Kind::TimestampTz),
        ] {
            assert_eq!(Kind::of(t), Some(k), "{t}");
        }
        for t in [
            "LONG",
            "RAW",
            "BLOB",
            "INTERVAL DAY(2) TO SECOND(6)",
            "XMLTYPE",
            "ROWID",
        ] {
            assert_eq!(Kind::of(t), None, "{t}");
        }
    }

    #[test]
    fn job_types_a_kind_accepts() {
        use ColumnType as C;
        let text = C::Text { max_chars: None };
        assert!(Kind::Number.accepts(text) && Kind::Date.accepts(text));
        assert!(Kind::Varchar.accepts(C::Date) && Kind::Clob.accepts(C::Float));
        assert!(Kind::Number.accepts(C::BigInt) && Kind::Binary.accepts(C::Float));
        assert!(Kind::Timestamp.accepts(C::Date) && Kind::TimestampTz.accepts(C::Timestamp));
        assert!(!Kind::Number.accepts(C::Date));
        assert!(!Kind::Date.accepts(C::Int));
    }

    #[test]
    fn character_declarations_keep_their_length_semantics() {
        assert_eq!(
            col("VARCHAR2", 40, 10, Some(true)).char_decl().as_deref(),
            Some("VARCHAR2(10 CHAR)")
        );
        assert_eq!(
            col("CHAR", 3, 3, Some(false)).char_decl().as_deref(),
            Some("CHAR(3 BYTE)")
        );
        assert_eq!(
            col("NVARCHAR2", 40, 20, None).char_decl().as_deref(),
            Some("NVARCHAR2(20)")
        );
        assert_eq!(col("CLOB", 4000, 0, None).char_decl(), None);
    }
}
