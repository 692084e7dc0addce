pub mod field_error;
pub mod names;
