//! Open enums: Tradecloud adds enum values without notice, so every enum of
//! the specs is generated as an enum with one variant per documented value
//! and an `Unknown(String)` variant that keeps any other value verbatim.

/// Conversion between an open enum and its wire value. Implemented by the
/// generated code for every string enum of the specs.
///
/// ```
/// use tradecloud::api::common::types::LineProcessStatus;
/// use tradecloud::types::OpenEnum;
///
/// let known: LineProcessStatus = serde_json::from_str("\"Confirmed\"").unwrap();
/// assert_eq!(known, LineProcessStatus::Confirmed);
///
/// let future: LineProcessStatus = serde_json::from_str("\"OnHold\"").unwrap();
/// assert_eq!(future, LineProcessStatus::Unknown("OnHold".into()));
/// assert!(future.is_unknown());
/// assert_eq!(serde_json::to_string(&future).unwrap(), "\"OnHold\"");
/// ```
pub trait OpenEnum: Sized {
    /// The values the spec documents, in spec order.
    const DOCUMENTED: &'static [&'static str];

    /// The variant for a wire value; undocumented values become `Unknown`.
    fn from_wire(value: &str) -> Self;

    /// The wire value of this variant.
    fn as_wire(&self) -> &str;

    /// Whether this value is not documented by the spec.
    fn is_unknown(&self) -> bool {
        !Self::DOCUMENTED.contains(&self.as_wire())
    }
}

/// Implements serde, `Display`, `FromStr` and `From<&str>`/`From<String>`
/// for a type that implements [`OpenEnum`]. Used by the generated code.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_open_enum {
    ($name:ident) => {
        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                $crate::types::OpenEnum::as_wire(self)
            }

            /// Whether this value is not documented by the spec.
            pub fn is_unknown(&self) -> bool {
                $crate::types::OpenEnum::is_unknown(self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::types::OpenEnum::as_wire(self))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok($crate::types::OpenEnum::from_wire(value))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                $crate::types::OpenEnum::from_wire(value)
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                $crate::types::OpenEnum::from_wire(&value)
            }
        }

        impl ::std::convert::TryFrom<&::std::string::String> for $name {
            type Error = ::std::convert::Infallible;
            fn try_from(value: &::std::string::String) -> ::std::result::Result<Self, Self::Error> {
                Ok($crate::types::OpenEnum::from_wire(value))
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str($crate::types::OpenEnum::as_wire(self))
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Visitor;
                impl<'de> ::serde::de::Visitor<'de> for Visitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "a string value of {}", stringify!($name))
                    }
                    fn visit_str<E: ::serde::de::Error>(
                        self,
                        value: &str,
                    ) -> ::std::result::Result<$name, E> {
                        Ok($crate::types::OpenEnum::from_wire(value))
                    }
                }
                deserializer.deserialize_str(Visitor)
            }
        }
    };
}
