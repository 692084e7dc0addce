//! Label and field selectors with kube-apiserver's parse errors.

pub mod field_selector;
pub mod label_selector;

pub use field_selector::{FieldSelector, FieldSelectorError};
pub use label_selector::{LabelSelector, LabelSelectorError};
