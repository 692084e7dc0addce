pub mod checks;
pub mod field_error;
pub mod label_selector;
pub mod names;
pub mod quantity;
pub mod resource_names;
