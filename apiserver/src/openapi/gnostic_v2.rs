//! The Swagger 2.0 document in protobuf: gnostic's `openapi.v2.Document`
//! (`openapiv2/OpenAPIv2.proto` in github.com/google/gnostic-models).
//!
//! client-go's `OpenAPISchema()` asks `/openapi/v2` for
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes
//! the answer as that message, whatever the `Content-Type`; kubectl's
//! client-side validation uses it for a kind it does not find in
//! `/openapi/v3` (it reads the `x-kubernetes-group-version-kind` of every
//! `PATCH` operation, its `fieldValidation` parameter, and the definitions).
//!
//! The message is written straight from the JSON document, as gnostic's
//! `ParseDocument` reads it: every message of the .proto is a table below
//! (JSON key, field number, shape), JSON objects used as maps become
//! `repeated Named* { name = 1; value = 2; }`, the `oneof` wrappers pick their
//! case from the value (`$ref`, `in`, `type`...), and `x-` keys become
//! `NamedAny` vendor extensions. Free-form values (`default`, `example`,
//! `enum`, extensions) are gnostic's `Any` with only its `yaml` text set;
//! that text is the value's JSON, which is YAML too and keeps every string a
//! string (a YAML 1.1 reader such as go-yaml v2 would read a plain `on` or
//! `y` as a boolean).
//!
//! Encoding follows proto3: singular scalars at their zero value are left
//! out, sub-messages are written whenever the JSON has them (an empty
//! `properties: {}` stays present), and fields go out in field-number order.
//! Keys the .proto has no place for are reported, not guessed at.

use serde_json::{Map, Value};

/// How a JSON value is written.
enum Shape {
    Str,
    Bool,
    Double,
    Int64,
    /// gnostic's `Any { google.protobuf.Any value = 1; string yaml = 2; }`.
    Any,
    /// A JSON object with fixed keys.
    Message(&'static [Field]),
    /// A JSON object used as a map: `entry` is the repeated field of
    /// `Named* { string name = 1; <value> value = 2; }`, `extensions` the
    /// field for `x-` keys where the message has one (`Paths`, `Responses`).
    Map {
        entry: u32,
        value: &'static Shape,
        extensions: Option<u32>,
    },
    /// A message whose only field, `number`, is repeated (`TypeItem`,
    /// `ItemsItem`, `StringArray`): from a JSON array, or a single value.
    List {
        number: u32,
        item: &'static Shape,
    },
    /// A `oneof` wrapper: picks the case (field number and shape) for a
    /// value, `None` for a value none of the cases takes.
    OneOf(fn(&Value) -> Option<(u32, &'static Shape)>),
}

/// One field of a [`Shape::Message`], in field-number order.
struct Field {
    /// The JSON key; [`EXTENSIONS`] for `repeated NamedAny vendor_extension`.
    key: &'static str,
    number: u32,
    shape: &'static Shape,
    /// `repeated`: each element of a JSON array is one occurrence.
    repeated: bool,
}

/// The key of the vendor-extension field: every `x-` key goes there.
const EXTENSIONS: &str = "x-";

const fn one(key: &'static str, number: u32, shape: &'static Shape) -> Field {
    Field {
        key,
        number,
        shape,
        repeated: false,
    }
}

const fn many(key: &'static str, number: u32, shape: &'static Shape) -> Field {
    Field {
        key,
        number,
        shape,
        repeated: true,
    }
}

const fn ext(number: u32) -> Field {
    many(EXTENSIONS, number, &Shape::Any)
}

const fn map(entry: u32, value: &'static Shape) -> Shape {
    Shape::Map {
        entry,
        value,
        extensions: None,
    }
}

static STR: Shape = Shape::Str;
static BOOL: Shape = Shape::Bool;
static DOUBLE: Shape = Shape::Double;
static INT64: Shape = Shape::Int64;
static ANY: Shape = Shape::Any;

static DOCUMENT: Shape = Shape::Message(&[
    one("swagger", 1, &STR),
    one("info", 2, &INFO),
    one("host", 3, &STR),
    one("basePath", 4, &STR),
    many("schemes", 5, &STR),
    many("consumes", 6, &STR),
    many("produces", 7, &STR),
    one("paths", 8, &PATHS),
    one("definitions", 9, &DEFINITIONS),
    one("parameters", 10, &PARAMETER_DEFINITIONS),
    one("responses", 11, &RESPONSE_DEFINITIONS),
    many("security", 12, &SECURITY_REQUIREMENT),
    one("securityDefinitions", 13, &SECURITY_DEFINITIONS),
    many("tags", 14, &TAG),
    one("externalDocs", 15, &EXTERNAL_DOCS),
    ext(16),
]);

static INFO: Shape = Shape::Message(&[
    one("title", 1, &STR),
    one("version", 2, &STR),
    one("description", 3, &STR),
    one("termsOfService", 4, &STR),
    one("contact", 5, &CONTACT),
    one("license", 6, &LICENSE),
    ext(7),
]);

static CONTACT: Shape = Shape::Message(&[
    one("name", 1, &STR),
    one("url", 2, &STR),
    one("email", 3, &STR),
    ext(4),
]);

static LICENSE: Shape = Shape::Message(&[one("name", 1, &STR), one("url", 2, &STR), ext(3)]);

static EXTERNAL_DOCS: Shape =
    Shape::Message(&[one("description", 1, &STR), one("url", 2, &STR), ext(3)]);

static TAG: Shape = Shape::Message(&[
    one("name", 1, &STR),
    one("description", 2, &STR),
    one("externalDocs", 3, &EXTERNAL_DOCS),
    ext(4),
]);

static PATHS: Shape = Shape::Map {
    entry: 2,
    value: &PATH_ITEM,
    extensions: Some(1),
};

static PATH_ITEM: Shape = Shape::Message(&[
    one("$ref", 1, &STR),
    one("get", 2, &OPERATION),
    one("put", 3, &OPERATION),
    one("post", 4, &OPERATION),
    one("delete", 5, &OPERATION),
    one("options", 6, &OPERATION),
    one("head", 7, &OPERATION),
    one("patch", 8, &OPERATION),
    many("parameters", 9, &PARAMETERS_ITEM),
    ext(10),
]);

static OPERATION: Shape = Shape::Message(&[
    many("tags", 1, &STR),
    one("summary", 2, &STR),
    one("description", 3, &STR),
    one("externalDocs", 4, &EXTERNAL_DOCS),
    one("operationId", 5, &STR),
    many("produces", 6, &STR),
    many("consumes", 7, &STR),
    many("parameters", 8, &PARAMETERS_ITEM),
    one("responses", 9, &RESPONSES),
    many("schemes", 10, &STR),
    one("deprecated", 11, &BOOL),
    many("security", 12, &SECURITY_REQUIREMENT),
    ext(13),
]);

static JSON_REFERENCE: Shape = Shape::Message(&[one("$ref", 1, &STR), one("description", 2, &STR)]);

fn is_reference(v: &Value) -> bool {
    v.get("$ref").is_some()
}

fn str_key<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `ParametersItem { oneof { Parameter parameter = 1; JsonReference json_reference = 2; } }`
static PARAMETERS_ITEM: Shape = Shape::OneOf(|v| {
    Some(if is_reference(v) {
        (2, &JSON_REFERENCE)
    } else {
        (1, &PARAMETER)
    })
});

/// `Parameter { oneof { BodyParameter body_parameter = 1; NonBodyParameter non_body_parameter = 2; } }`
static PARAMETER: Shape = Shape::OneOf(|v| {
    Some(if str_key(v, "in") == Some("body") {
        (1, &BODY_PARAMETER)
    } else {
        (2, &NON_BODY_PARAMETER)
    })
});

/// `NonBodyParameter`: header 1, formData 2, query 3, path 4, by `in`.
static NON_BODY_PARAMETER: Shape = Shape::OneOf(|v| match str_key(v, "in")? {
    "header" => Some((1, &HEADER_OR_PATH_PARAMETER)),
    "formData" => Some((2, &QUERY_OR_FORM_DATA_PARAMETER)),
    "query" => Some((3, &QUERY_OR_FORM_DATA_PARAMETER)),
    "path" => Some((4, &HEADER_OR_PATH_PARAMETER)),
    _ => None,
});

static BODY_PARAMETER: Shape = Shape::Message(&[
    one("description", 1, &STR),
    one("name", 2, &STR),
    one("in", 3, &STR),
    one("required", 4, &BOOL),
    one("schema", 5, &SCHEMA),
    ext(6),
]);

/// `HeaderParameterSubSchema` and `PathParameterSubSchema` number their
/// fields alike.
static HEADER_OR_PATH_PARAMETER: Shape = Shape::Message(&[
    one("required", 1, &BOOL),
    one("in", 2, &STR),
    one("description", 3, &STR),
    one("name", 4, &STR),
    one("type", 5, &STR),
    one("format", 6, &STR),
    one("items", 7, &PRIMITIVES_ITEMS),
    one("collectionFormat", 8, &STR),
    one("default", 9, &ANY),
    one("maximum", 10, &DOUBLE),
    one("exclusiveMaximum", 11, &BOOL),
    one("minimum", 12, &DOUBLE),
    one("exclusiveMinimum", 13, &BOOL),
    one("maxLength", 14, &INT64),
    one("minLength", 15, &INT64),
    one("pattern", 16, &STR),
    one("maxItems", 17, &INT64),
    one("minItems", 18, &INT64),
    one("uniqueItems", 19, &BOOL),
    many("enum", 20, &ANY),
    one("multipleOf", 21, &DOUBLE),
    ext(22),
]);

/// `QueryParameterSubSchema` and `FormDataParameterSubSchema` number their
/// fields alike (both have `allowEmptyValue`).
static QUERY_OR_FORM_DATA_PARAMETER: Shape = Shape::Message(&[
    one("required", 1, &BOOL),
    one("in", 2, &STR),
    one("description", 3, &STR),
    one("name", 4, &STR),
    one("allowEmptyValue", 5, &BOOL),
    one("type", 6, &STR),
    one("format", 7, &STR),
    one("items", 8, &PRIMITIVES_ITEMS),
    one("collectionFormat", 9, &STR),
    one("default", 10, &ANY),
    one("maximum", 11, &DOUBLE),
    one("exclusiveMaximum", 12, &BOOL),
    one("minimum", 13, &DOUBLE),
    one("exclusiveMinimum", 14, &BOOL),
    one("maxLength", 15, &INT64),
    one("minLength", 16, &INT64),
    one("pattern", 17, &STR),
    one("maxItems", 18, &INT64),
    one("minItems", 19, &INT64),
    one("uniqueItems", 20, &BOOL),
    many("enum", 21, &ANY),
    one("multipleOf", 22, &DOUBLE),
    ext(23),
]);

static PRIMITIVES_ITEMS: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("format", 2, &STR),
    one("items", 3, &PRIMITIVES_ITEMS),
    one("collectionFormat", 4, &STR),
    one("default", 5, &ANY),
    one("maximum", 6, &DOUBLE),
    one("exclusiveMaximum", 7, &BOOL),
    one("minimum", 8, &DOUBLE),
    one("exclusiveMinimum", 9, &BOOL),
    one("maxLength", 10, &INT64),
    one("minLength", 11, &INT64),
    one("pattern", 12, &STR),
    one("maxItems", 13, &INT64),
    one("minItems", 14, &INT64),
    one("uniqueItems", 15, &BOOL),
    many("enum", 16, &ANY),
    one("multipleOf", 17, &DOUBLE),
    ext(18),
]);

static HEADER: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("format", 2, &STR),
    one("items", 3, &PRIMITIVES_ITEMS),
    one("collectionFormat", 4, &STR),
    one("default", 5, &ANY),
    one("maximum", 6, &DOUBLE),
    one("exclusiveMaximum", 7, &BOOL),
    one("minimum", 8, &DOUBLE),
    one("exclusiveMinimum", 9, &BOOL),
    one("maxLength", 10, &INT64),
    one("minLength", 11, &INT64),
    one("pattern", 12, &STR),
    one("maxItems", 13, &INT64),
    one("minItems", 14, &INT64),
    one("uniqueItems", 15, &BOOL),
    many("enum", 16, &ANY),
    one("multipleOf", 17, &DOUBLE),
    one("description", 18, &STR),
    ext(19),
]);

/// `Responses { repeated NamedResponseValue response_code = 1; repeated NamedAny vendor_extension = 2; }`
static RESPONSES: Shape = Shape::Map {
    entry: 1,
    value: &RESPONSE_VALUE,
    extensions: Some(2),
};

/// `ResponseValue { oneof { Response response = 1; JsonReference json_reference = 2; } }`
static RESPONSE_VALUE: Shape = Shape::OneOf(|v| {
    Some(if is_reference(v) {
        (2, &JSON_REFERENCE)
    } else {
        (1, &RESPONSE)
    })
});

static RESPONSE: Shape = Shape::Message(&[
    one("description", 1, &STR),
    one("schema", 2, &SCHEMA_ITEM),
    one("headers", 3, &HEADERS),
    one("examples", 4, &EXAMPLES),
    ext(5),
]);

static HEADERS: Shape = map(1, &HEADER);
static EXAMPLES: Shape = map(1, &ANY);

/// `SchemaItem { oneof { Schema schema = 1; FileSchema file_schema = 2; } }`
static SCHEMA_ITEM: Shape = Shape::OneOf(|v| {
    Some(if str_key(v, "type") == Some("file") {
        (2, &FILE_SCHEMA)
    } else {
        (1, &SCHEMA)
    })
});

static FILE_SCHEMA: Shape = Shape::Message(&[
    one("format", 1, &STR),
    one("title", 2, &STR),
    one("description", 3, &STR),
    one("default", 4, &ANY),
    many("required", 5, &STR),
    one("type", 6, &STR),
    one("readOnly", 7, &BOOL),
    one("externalDocs", 8, &EXTERNAL_DOCS),
    one("example", 9, &ANY),
    ext(10),
]);

static SCHEMA: Shape = Shape::Message(&[
    one("$ref", 1, &STR),
    one("format", 2, &STR),
    one("title", 3, &STR),
    one("description", 4, &STR),
    one("default", 5, &ANY),
    one("multipleOf", 6, &DOUBLE),
    one("maximum", 7, &DOUBLE),
    one("exclusiveMaximum", 8, &BOOL),
    one("minimum", 9, &DOUBLE),
    one("exclusiveMinimum", 10, &BOOL),
    one("maxLength", 11, &INT64),
    one("minLength", 12, &INT64),
    one("pattern", 13, &STR),
    one("maxItems", 14, &INT64),
    one("minItems", 15, &INT64),
    one("uniqueItems", 16, &BOOL),
    one("maxProperties", 17, &INT64),
    one("minProperties", 18, &INT64),
    many("required", 19, &STR),
    many("enum", 20, &ANY),
    one("additionalProperties", 21, &ADDITIONAL_PROPERTIES),
    one("type", 22, &TYPE_ITEM),
    one("items", 23, &ITEMS_ITEM),
    many("allOf", 24, &SCHEMA),
    one("properties", 25, &PROPERTIES),
    one("discriminator", 26, &STR),
    one("readOnly", 27, &BOOL),
    one("xml", 28, &XML),
    one("externalDocs", 29, &EXTERNAL_DOCS),
    one("example", 30, &ANY),
    ext(31),
]);

/// `AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }`
static ADDITIONAL_PROPERTIES: Shape = Shape::OneOf(|v| match v {
    Value::Bool(_) => Some((2, &BOOL)),
    Value::Object(_) => Some((1, &SCHEMA)),
    _ => None,
});

/// `TypeItem { repeated string value = 1; }`: `"type": "string"` or a list.
static TYPE_ITEM: Shape = Shape::List {
    number: 1,
    item: &STR,
};

/// `ItemsItem { repeated Schema schema = 1; }`: one schema or a list.
static ITEMS_ITEM: Shape = Shape::List {
    number: 1,
    item: &SCHEMA,
};

static PROPERTIES: Shape = map(1, &SCHEMA);
static DEFINITIONS: Shape = map(1, &SCHEMA);
static PARAMETER_DEFINITIONS: Shape = map(1, &PARAMETER);
static RESPONSE_DEFINITIONS: Shape = map(1, &RESPONSE);

static XML: Shape = Shape::Message(&[
    one("name", 1, &STR),
    one("namespace", 2, &STR),
    one("prefix", 3, &STR),
    one("attribute", 4, &BOOL),
    one("wrapped", 5, &BOOL),
    ext(6),
]);

/// `SecurityRequirement { repeated NamedStringArray additional_properties = 1; }`
static SECURITY_REQUIREMENT: Shape = map(1, &STRING_ARRAY);

/// `StringArray { repeated string value = 1; }`
static STRING_ARRAY: Shape = Shape::List {
    number: 1,
    item: &STR,
};

static SECURITY_DEFINITIONS: Shape = map(1, &SECURITY_DEFINITIONS_ITEM);

/// `SecurityDefinitionsItem`: basic 1, apiKey 2, and OAuth2 by `flow`:
/// implicit 3, password 4, application 5, accessCode 6.
static SECURITY_DEFINITIONS_ITEM: Shape = Shape::OneOf(|v| match str_key(v, "type")? {
    "basic" => Some((1, &BASIC_AUTHENTICATION_SECURITY)),
    "apiKey" => Some((2, &API_KEY_SECURITY)),
    "oauth2" => match str_key(v, "flow")? {
        "implicit" => Some((3, &OAUTH2_IMPLICIT_SECURITY)),
        "password" => Some((4, &OAUTH2_PASSWORD_SECURITY)),
        "application" => Some((5, &OAUTH2_APPLICATION_SECURITY)),
        "accessCode" => Some((6, &OAUTH2_ACCESS_CODE_SECURITY)),
        _ => None,
    },
    _ => None,
});

static BASIC_AUTHENTICATION_SECURITY: Shape =
    Shape::Message(&[one("type", 1, &STR), one("description", 2, &STR), ext(3)]);

static API_KEY_SECURITY: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("name", 2, &STR),
    one("in", 3, &STR),
    one("description", 4, &STR),
    ext(5),
]);

/// `Oauth2Scopes { repeated NamedString additional_properties = 1; }`
static OAUTH2_SCOPES: Shape = map(1, &STR);

static OAUTH2_IMPLICIT_SECURITY: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("flow", 2, &STR),
    one("scopes", 3, &OAUTH2_SCOPES),
    one("authorizationUrl", 4, &STR),
    one("description", 5, &STR),
    ext(6),
]);

static OAUTH2_PASSWORD_SECURITY: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("flow", 2, &STR),
    one("scopes", 3, &OAUTH2_SCOPES),
    one("tokenUrl", 4, &STR),
    one("description", 5, &STR),
    ext(6),
]);

static OAUTH2_APPLICATION_SECURITY: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("flow", 2, &STR),
    one("scopes", 3, &OAUTH2_SCOPES),
    one("tokenUrl", 4, &STR),
    one("description", 5, &STR),
    ext(6),
]);

static OAUTH2_ACCESS_CODE_SECURITY: Shape = Shape::Message(&[
    one("type", 1, &STR),
    one("flow", 2, &STR),
    one("scopes", 3, &OAUTH2_SCOPES),
    one("authorizationUrl", 4, &STR),
    one("tokenUrl", 5, &STR),
    one("description", 6, &STR),
    ext(7),
]);

/// The encoded document, and the JSON pointers of the values it could not
/// carry (keys the .proto has no field for, values of the wrong JSON type).
#[derive(Debug)]
pub(crate) struct Encoded {
    pub bytes: Vec<u8>,
    pub skipped: Vec<String>,
}

/// Encodes a Swagger 2.0 document as an `openapi.v2.Document`.
pub(crate) fn encode_document(doc: &Value) -> Encoded {
    let mut enc = Encoder {
        path: Vec::new(),
        skipped: Vec::new(),
    };
    let bytes = enc.body(&DOCUMENT, doc).unwrap_or_default();
    Encoded {
        bytes,
        skipped: enc.skipped,
    }
}

/// A step of the JSON pointer to the value being encoded.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

struct Encoder<'a> {
    path: Vec<Step<'a>>,
    skipped: Vec<String>,
}

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, number: u32, wire_type: u32) {
    put_varint(out, u64::from(number << 3 | wire_type));
}

fn put_len(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_tag(out, number, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A JSON number as an `int64`: integers, and floats with no fraction.
fn as_int64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
            .map(|f| f as i64)
    })
}

impl<'a> Encoder<'a> {
    fn skip(&mut self, why: &str) {
        let mut pointer = String::new();
        for step in &self.path {
            pointer.push('/');
            match step {
                Step::Key(k) => pointer.push_str(&k.replace('~', "~0").replace('/', "~1")),
                Step::Index(i) => pointer.push_str(&i.to_string()),
            }
        }
        self.skipped.push(format!("{pointer}: {why}"));
    }

    /// Writes `v` as field `number` of shape `shape`: once, or for a
    /// repeated field once per element of a JSON array.
    fn field(
        &mut self,
        out: &mut Vec<u8>,
        number: u32,
        shape: &Shape,
        repeated: bool,
        v: &'a Value,
    ) {
        match v {
            Value::Array(items) if repeated => {
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(i));
                    self.occurrence(out, number, shape, true, item);
                    self.path.pop();
                }
            }
            _ => self.occurrence(out, number, shape, repeated, v),
        }
    }

    /// One occurrence of field `number`. Singular scalars at their zero
    /// value are left out (proto3); repeated ones are always written.
    fn occurrence(
        &mut self,
        out: &mut Vec<u8>,
        number: u32,
        shape: &Shape,
        keep_zero: bool,
        v: &'a Value,
    ) {
        match shape {
            Shape::Str => match v.as_str() {
                Some(s) if keep_zero || !s.is_empty() => put_len(out, number, s.as_bytes()),
                Some(_) => {}
                None => self.skip("not a string"),
            },
            Shape::Bool => match v.as_bool() {
                Some(b) if keep_zero || b => {
                    put_tag(out, number, VARINT);
                    put_varint(out, u64::from(b));
                }
                Some(_) => {}
                None => self.skip("not a boolean"),
            },
            Shape::Double => match v.as_f64() {
                Some(f) if keep_zero || f != 0.0 => {
                    put_tag(out, number, FIXED64);
                    out.extend_from_slice(&f.to_le_bytes());
                }
                Some(_) => {}
                None => self.skip("not a number"),
            },
            Shape::Int64 => match as_int64(v) {
                Some(i) if keep_zero || i != 0 => {
                    put_tag(out, number, VARINT);
                    // int64 is a plain varint of the two's complement.
                    put_varint(out, i as u64);
                }
                Some(_) => {}
                None => self.skip("not an integer"),
            },
            Shape::OneOf(choose) => match choose(v) {
                Some((case, case_shape)) => {
                    let mut inner = Vec::new();
                    self.occurrence(&mut inner, case, case_shape, true, v);
                    // Empty only when the case itself could not be written.
                    if !inner.is_empty() {
                        put_len(out, number, &inner);
                    }
                }
                None => self.skip("no case of the oneof takes this value"),
            },
            Shape::Any | Shape::Message(_) | Shape::Map { .. } | Shape::List { .. } => {
                if let Some(body) = self.body(shape, v) {
                    put_len(out, number, &body);
                }
            }
        }
    }

    /// The bytes of a message-shaped value (without tag and length), `None`
    /// for a value that is not of that shape.
    fn body(&mut self, shape: &Shape, v: &'a Value) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        match shape {
            Shape::Any => {
                // Serializing a `Value` cannot fail (string keys only).
                let yaml = serde_json::to_string(v).unwrap_or_default();
                put_len(&mut out, 2, yaml.as_bytes());
            }
            Shape::Message(fields) => match v.as_object() {
                Some(obj) => self.message(&mut out, fields, obj),
                None => {
                    self.skip("not an object");
                    return None;
                }
            },
            Shape::Map {
                entry,
                value,
                extensions,
            } => match v.as_object() {
                Some(obj) => {
                    for (k, item) in obj {
                        self.path.push(Step::Key(k));
                        match extensions {
                            Some(n) if k.starts_with(EXTENSIONS) => {
                                self.named(&mut out, *n, k, &Shape::Any, item)
                            }
                            _ => self.named(&mut out, *entry, k, value, item),
                        }
                        self.path.pop();
                    }
                }
                None => {
                    self.skip("not an object");
                    return None;
                }
            },
            Shape::List { number, item } => self.field(&mut out, *number, item, true, v),
            Shape::Str | Shape::Bool | Shape::Double | Shape::Int64 | Shape::OneOf(_) => {
                // Only reached through a mistake in the tables above.
                self.skip("not a message shape");
                return None;
            }
        }
        Some(out)
    }

    fn message(&mut self, out: &mut Vec<u8>, fields: &[Field], obj: &'a Map<String, Value>) {
        for f in fields {
            if f.key == EXTENSIONS {
                for (k, item) in obj.iter().filter(|(k, _)| k.starts_with(EXTENSIONS)) {
                    self.path.push(Step::Key(k));
                    self.named(out, f.number, k, &Shape::Any, item);
                    self.path.pop();
                }
            } else if let Some(item) = obj.get(f.key) {
                self.path.push(Step::Key(f.key));
                self.field(out, f.number, f.shape, f.repeated, item);
                self.path.pop();
            }
        }
        let has_extensions = fields.iter().any(|f| f.key == EXTENSIONS);
        for (k, _) in obj {
            let known =
                fields.iter().any(|f| f.key == k) || (has_extensions && k.starts_with(EXTENSIONS));
            if !known {
                self.path.push(Step::Key(k));
                self.skip("no field for this key");
                self.path.pop();
            }
        }
    }

    /// `Named* { string name = 1; <shape> value = 2; }` as field `number`.
    fn named(&mut self, out: &mut Vec<u8>, number: u32, name: &str, shape: &Shape, v: &'a Value) {
        let mut entry = Vec::new();
        put_len(&mut entry, 1, name.as_bytes());
        self.occurrence(&mut entry, 2, shape, false, v);
        put_len(out, number, &entry);
    }
}

#[cfg(test)]
mod tests;
