//! One declaration per setting: `settings!` writes a settings struct that
//! both the TOML file (serde) and the flags (clap) fill, and the overlay of the flags onto the
//! file, from one list of fields. Each field says how a flag meets the file's value:
//!
//! - `replace`: a flag given wins (an `Option` that is `Some`, a list that is not empty);
//! - `extend`: both count (users, secrets, peer rules: the flags add to the file's);
//! - `either`: on if the file or a flag turns it on;
//! - `nested`: a table of its own (`[control]`), overlaid field by field.
//!
//! The struct also gets `KEYS`, every setting's name, so `check-config` prints each setting it
//! was given even when no hand-written line describes it.

/// A value a flag may or may not have given.
pub trait Given {
    /// Whether the flag was given.
    fn given(&self) -> bool;
}

impl<T> Given for Option<T> {
    fn given(&self) -> bool {
        self.is_some()
    }
}

impl<T> Given for Vec<T> {
    fn given(&self) -> bool {
        !self.is_empty()
    }
}

/// A settings struct whose flags overlay its file.
pub trait Overlay {
    /// Overlays `flags` onto these settings (from the file).
    fn overlay(self, flags: Self) -> Self;
}

/// A flag given wins.
pub fn replace<T: Given>(file: &mut T, flag: T) {
    if flag.given() {
        *file = flag;
    }
}

/// The flags add to the file's.
pub fn extend<T>(file: &mut Vec<T>, flag: Vec<T>) {
    file.extend(flag);
}

/// On if either turns it on.
pub fn either(file: &mut bool, flag: bool) {
    *file |= flag;
}

/// A nested table, overlaid field by field.
pub fn nested<T: Overlay + Default>(file: &mut T, flag: T) {
    *file = std::mem::take(file).overlay(flag);
}

/// Declares a settings struct and its [`Overlay`] from one list of fields, each
/// `attributes pub name: Type => how,` with `how` one of the functions of
/// [`declare`](crate::config::declare).
macro_rules! settings {
    (
        $(#[$sm:meta])*
        pub struct $name:ident {
            $(
                $(#[$fm:meta])*
                pub $field:ident: $ty:ty => $how:ident,
            )*
        }
    ) => {
        $(#[$sm])*
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl $name {
            /// Every setting's key, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];
        }

        impl $crate::config::declare::Overlay for $name {
            fn overlay(mut self, flags: $name) -> $name {
                $( $crate::config::declare::$how(&mut self.$field, flags.$field); )*
                self
            }
        }
    };
}

pub(crate) use settings;
