//! The encoder checked against messages declared here, field by field from
//! `openapiv2/OpenAPIv2.proto` (gnostic-models), and decoded with prost:
//! these declarations are written from the .proto, not from the encoder's
//! tables, so a wrong field number or wire type on either side shows.

// The oneof enums hold whole messages by value, as prost declares them;
// size does not matter for a test's decoding.
#![allow(clippy::large_enum_variant)]

use super::encode_document;
use serde_json::{json, Map, Value};

#[derive(Clone, PartialEq, prost::Message)]
struct Document {
    #[prost(string, tag = "1")]
    swagger: String,
    #[prost(message, optional, tag = "2")]
    info: Option<Info>,
    #[prost(string, tag = "4")]
    base_path: String,
    #[prost(string, repeated, tag = "7")]
    produces: Vec<String>,
    #[prost(message, optional, tag = "8")]
    paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    definitions: Option<Definitions>,
    #[prost(message, optional, tag = "10")]
    parameters: Option<ParameterDefinitions>,
    #[prost(message, repeated, tag = "12")]
    security: Vec<SecurityRequirement>,
    #[prost(message, optional, tag = "13")]
    security_definitions: Option<SecurityDefinitions>,
    #[prost(message, repeated, tag = "16")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Info {
    #[prost(string, tag = "1")]
    title: String,
    #[prost(string, tag = "2")]
    version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "2")]
    yaml: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedAny {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Paths {
    #[prost(message, repeated, tag = "1")]
    vendor_extension: Vec<NamedAny>,
    #[prost(message, repeated, tag = "2")]
    path: Vec<NamedPathItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedPathItem {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<PathItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PathItem {
    #[prost(message, optional, tag = "2")]
    get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    delete: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    patch: Option<Operation>,
    #[prost(message, repeated, tag = "9")]
    parameters: Vec<ParametersItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Operation {
    #[prost(string, repeated, tag = "1")]
    tags: Vec<String>,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "5")]
    operation_id: String,
    #[prost(string, repeated, tag = "6")]
    produces: Vec<String>,
    #[prost(string, repeated, tag = "7")]
    consumes: Vec<String>,
    #[prost(message, repeated, tag = "8")]
    parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    responses: Option<Responses>,
    #[prost(string, repeated, tag = "10")]
    schemes: Vec<String>,
    #[prost(bool, tag = "11")]
    deprecated: bool,
    #[prost(message, repeated, tag = "13")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ParametersItem {
    #[prost(oneof = "ParametersItemCase", tags = "1, 2")]
    oneof: Option<ParametersItemCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum ParametersItemCase {
    #[prost(message, tag = "1")]
    Parameter(Parameter),
    #[prost(message, tag = "2")]
    JsonReference(JsonReference),
}

#[derive(Clone, PartialEq, prost::Message)]
struct JsonReference {
    #[prost(string, tag = "1")]
    xref: String,
    #[prost(string, tag = "2")]
    description: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Parameter {
    #[prost(oneof = "ParameterCase", tags = "1, 2")]
    oneof: Option<ParameterCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum ParameterCase {
    #[prost(message, tag = "1")]
    Body(BodyParameter),
    #[prost(message, tag = "2")]
    NonBody(NonBodyParameter),
}

#[derive(Clone, PartialEq, prost::Message)]
struct BodyParameter {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    r#in: String,
    #[prost(bool, tag = "4")]
    required: bool,
    #[prost(message, optional, tag = "5")]
    schema: Option<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NonBodyParameter {
    #[prost(oneof = "NonBodyCase", tags = "1, 2, 3, 4")]
    oneof: Option<NonBodyCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum NonBodyCase {
    #[prost(message, tag = "1")]
    Header(HeaderParameterSubSchema),
    #[prost(message, tag = "2")]
    FormData(QueryParameterSubSchema),
    #[prost(message, tag = "3")]
    Query(QueryParameterSubSchema),
    #[prost(message, tag = "4")]
    Path(PathParameterSubSchema),
}

#[derive(Clone, PartialEq, prost::Message)]
struct HeaderParameterSubSchema {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "5")]
    r#type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryParameterSubSchema {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(bool, tag = "5")]
    allow_empty_value: bool,
    #[prost(string, tag = "6")]
    r#type: String,
    #[prost(message, optional, tag = "8")]
    items: Option<PrimitivesItems>,
    #[prost(bool, tag = "20")]
    unique_items: bool,
    #[prost(message, repeated, tag = "21")]
    r#enum: Vec<Any>,
    #[prost(message, repeated, tag = "23")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PathParameterSubSchema {
    #[prost(bool, tag = "1")]
    required: bool,
    #[prost(string, tag = "2")]
    r#in: String,
    #[prost(string, tag = "3")]
    description: String,
    #[prost(string, tag = "4")]
    name: String,
    #[prost(string, tag = "5")]
    r#type: String,
    #[prost(bool, tag = "19")]
    unique_items: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PrimitivesItems {
    #[prost(string, tag = "1")]
    r#type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Responses {
    #[prost(message, repeated, tag = "1")]
    response_code: Vec<NamedResponseValue>,
    #[prost(message, repeated, tag = "2")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedResponseValue {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<ResponseValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ResponseValue {
    #[prost(oneof = "ResponseValueCase", tags = "1, 2")]
    oneof: Option<ResponseValueCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum ResponseValueCase {
    #[prost(message, tag = "1")]
    Response(Response),
    #[prost(message, tag = "2")]
    JsonReference(JsonReference),
}

#[derive(Clone, PartialEq, prost::Message)]
struct Response {
    #[prost(string, tag = "1")]
    description: String,
    #[prost(message, optional, tag = "2")]
    schema: Option<SchemaItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SchemaItem {
    #[prost(oneof = "SchemaItemCase", tags = "1, 2")]
    oneof: Option<SchemaItemCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum SchemaItemCase {
    #[prost(message, tag = "1")]
    Schema(Schema),
    #[prost(message, tag = "2")]
    FileSchema(FileSchema),
}

#[derive(Clone, PartialEq, prost::Message)]
struct FileSchema {
    #[prost(string, tag = "6")]
    r#type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Schema {
    #[prost(string, tag = "1")]
    xref: String,
    #[prost(string, tag = "2")]
    format: String,
    #[prost(string, tag = "3")]
    title: String,
    #[prost(string, tag = "4")]
    description: String,
    #[prost(message, optional, tag = "5")]
    default: Option<Any>,
    #[prost(double, tag = "6")]
    multiple_of: f64,
    #[prost(double, tag = "7")]
    maximum: f64,
    #[prost(bool, tag = "8")]
    exclusive_maximum: bool,
    #[prost(double, tag = "9")]
    minimum: f64,
    #[prost(bool, tag = "10")]
    exclusive_minimum: bool,
    #[prost(int64, tag = "11")]
    max_length: i64,
    #[prost(int64, tag = "12")]
    min_length: i64,
    #[prost(string, tag = "13")]
    pattern: String,
    #[prost(int64, tag = "14")]
    max_items: i64,
    #[prost(int64, tag = "15")]
    min_items: i64,
    #[prost(bool, tag = "16")]
    unique_items: bool,
    #[prost(int64, tag = "17")]
    max_properties: i64,
    #[prost(int64, tag = "18")]
    min_properties: i64,
    #[prost(string, repeated, tag = "19")]
    required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    r#enum: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    properties: Option<Properties>,
    #[prost(string, tag = "26")]
    discriminator: String,
    #[prost(bool, tag = "27")]
    read_only: bool,
    #[prost(message, optional, tag = "30")]
    example: Option<Any>,
    #[prost(message, repeated, tag = "31")]
    vendor_extension: Vec<NamedAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct AdditionalPropertiesItem {
    #[prost(oneof = "AdditionalPropertiesCase", tags = "1, 2")]
    oneof: Option<AdditionalPropertiesCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum AdditionalPropertiesCase {
    #[prost(message, tag = "1")]
    Schema(Schema),
    #[prost(bool, tag = "2")]
    Boolean(bool),
}

#[derive(Clone, PartialEq, prost::Message)]
struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    schema: Vec<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Properties {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Definitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSchema>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedSchema {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Schema>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ParameterDefinitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedParameter>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedParameter {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<Parameter>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SecurityRequirement {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedStringArray>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedStringArray {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<StringArray>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StringArray {
    #[prost(string, repeated, tag = "1")]
    value: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SecurityDefinitions {
    #[prost(message, repeated, tag = "1")]
    additional_properties: Vec<NamedSecurityDefinitionsItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamedSecurityDefinitionsItem {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    value: Option<SecurityDefinitionsItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct SecurityDefinitionsItem {
    #[prost(oneof = "SecurityDefinitionsCase", tags = "1, 2")]
    oneof: Option<SecurityDefinitionsCase>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum SecurityDefinitionsCase {
    #[prost(message, tag = "1")]
    Basic(BasicAuthenticationSecurity),
    #[prost(message, tag = "2")]
    ApiKey(ApiKeySecurity),
}

#[derive(Clone, PartialEq, prost::Message)]
struct BasicAuthenticationSecurity {
    #[prost(string, tag = "1")]
    r#type: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ApiKeySecurity {
    #[prost(string, tag = "1")]
    r#type: String,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    r#in: String,
    #[prost(string, tag = "4")]
    description: String,
}

/// Encodes `doc`, asserting nothing was left out, and decodes it.
fn round_trip(doc: &Value) -> Document {
    let encoded = encode_document(doc);
    assert!(encoded.skipped.is_empty(), "{:?}", encoded.skipped);
    <Document as prost::Message>::decode(encoded.bytes.as_slice())
        .unwrap_or_else(|e| panic!("decoding the encoded document: {e}"))
}

/// An `Any`'s text read back with a YAML parser (as kubectl does).
fn yaml(any: &Option<Any>) -> Value {
    let text = &any.as_ref().expect("a value").yaml;
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text:?} is not YAML: {e}"))
}

fn extensions(named: &[NamedAny]) -> Map<String, Value> {
    named
        .iter()
        .map(|n| (n.name.clone(), yaml(&n.value)))
        .collect()
}

/// A decoded schema back in JSON, written from the .proto's meaning alone.
fn schema_json(s: &Schema) -> Value {
    let mut m = Map::new();
    let mut text = |key: &str, v: &str| {
        if !v.is_empty() {
            m.insert(key.into(), json!(v));
        }
    };
    text("$ref", &s.xref);
    text("format", &s.format);
    text("title", &s.title);
    text("description", &s.description);
    text("pattern", &s.pattern);
    text("discriminator", &s.discriminator);
    if s.default.is_some() {
        m.insert("default".into(), yaml(&s.default));
    }
    if s.example.is_some() {
        m.insert("example".into(), yaml(&s.example));
    }
    for (key, v) in [
        ("multipleOf", s.multiple_of),
        ("maximum", s.maximum),
        ("minimum", s.minimum),
    ] {
        if v != 0.0 {
            m.insert(key.into(), json!(v));
        }
    }
    for (key, v) in [
        ("maxLength", s.max_length),
        ("minLength", s.min_length),
        ("maxItems", s.max_items),
        ("minItems", s.min_items),
        ("maxProperties", s.max_properties),
        ("minProperties", s.min_properties),
    ] {
        if v != 0 {
            m.insert(key.into(), json!(v));
        }
    }
    for (key, v) in [
        ("exclusiveMaximum", s.exclusive_maximum),
        ("exclusiveMinimum", s.exclusive_minimum),
        ("uniqueItems", s.unique_items),
        ("readOnly", s.read_only),
    ] {
        if v {
            m.insert(key.into(), json!(true));
        }
    }
    if !s.required.is_empty() {
        m.insert("required".into(), json!(s.required));
    }
    if !s.r#enum.is_empty() {
        let values: Vec<Value> = s.r#enum.iter().map(|a| yaml(&Some(a.clone()))).collect();
        m.insert("enum".into(), Value::Array(values));
    }
    match s
        .additional_properties
        .as_ref()
        .and_then(|a| a.oneof.as_ref())
    {
        Some(AdditionalPropertiesCase::Schema(inner)) => {
            m.insert("additionalProperties".into(), schema_json(inner));
        }
        Some(AdditionalPropertiesCase::Boolean(b)) => {
            m.insert("additionalProperties".into(), json!(b));
        }
        None => {}
    }
    // `type` and `items` are lists in the message; one element reads back
    // as the single value the documents write.
    if let Some(t) = &s.r#type {
        let v = match t.value.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        m.insert("type".into(), v);
    }
    if let Some(items) = &s.items {
        let v = match items.schema.as_slice() {
            [one] => schema_json(one),
            many => Value::Array(many.iter().map(schema_json).collect()),
        };
        m.insert("items".into(), v);
    }
    if !s.all_of.is_empty() {
        m.insert(
            "allOf".into(),
            Value::Array(s.all_of.iter().map(schema_json).collect()),
        );
    }
    if let Some(p) = &s.properties {
        let props: Map<String, Value> = p
            .additional_properties
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    schema_json(n.value.as_ref().expect("a schema")),
                )
            })
            .collect();
        m.insert("properties".into(), Value::Object(props));
    }
    m.extend(extensions(&s.vendor_extension));
    Value::Object(m)
}

/// A schema's JSON as it reads back from the message: without what proto3
/// does not carry (zero numbers, `false` flags), and with the `double`
/// fields as floats. Free-form values (`default`, `example`, `enum`,
/// extensions) and the `additionalProperties` oneof are kept as they are.
fn without_zero_scalars(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, v)| {
                    let free_form =
                        k.starts_with("x-") || matches!(k.as_str(), "default" | "example" | "enum");
                    if free_form {
                        return Some((k.clone(), v.clone()));
                    }
                    let zero = match v {
                        Value::Bool(b) => !b && k != "additionalProperties",
                        Value::Number(n) => n.as_f64() == Some(0.0),
                        _ => false,
                    };
                    let value = match (k.as_str(), v.as_f64()) {
                        ("maximum" | "minimum" | "multipleOf", Some(f)) => json!(f),
                        _ => without_zero_scalars(v),
                    };
                    (!zero).then(|| (k.clone(), value))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_zero_scalars).collect()),
        _ => v.clone(),
    }
}

#[test]
fn wire_bytes_follow_the_proto_field_numbers() {
    // Document.swagger = 1 (string): tag 0x0a.
    assert_eq!(
        encode_document(&json!({ "swagger": "2.0" })).bytes,
        b"\x0a\x032.0"
    );
    // Document.info = 2 (message), Info.version = 2: tag 0x12 both.
    assert_eq!(
        encode_document(&json!({ "info": { "version": "v" } })).bytes,
        b"\x12\x03\x12\x01v"
    );
    // Document.definitions = 9 -> NamedSchema{name 1, value 2} -> Schema
    // with maxLength = 11 (varint) and minimum = 9 (fixed64).
    let bytes = encode_document(&json!({
        "definitions": { "a": { "maxLength": 300, "minimum": 1.5 } }
    }))
    .bytes;
    let mut schema = vec![0x49];
    schema.extend_from_slice(&1.5f64.to_le_bytes());
    schema.extend_from_slice(&[0x58, 0xac, 0x02]);
    let mut named = vec![0x0a, 0x01, b'a', 0x12, schema.len() as u8];
    named.extend_from_slice(&schema);
    let mut definitions = vec![0x0a, named.len() as u8];
    definitions.extend_from_slice(&named);
    let mut expected = vec![0x4a, definitions.len() as u8];
    expected.extend_from_slice(&definitions);
    assert_eq!(bytes, expected);
    // Zero scalars are left out, as proto3 does; an empty map is kept.
    assert_eq!(
        encode_document(&json!({ "swagger": "", "definitions": {} })).bytes,
        b"\x4a\x00"
    );
}

#[test]
fn every_oneof_case_and_map_decodes() {
    let doc = json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": "unversioned" },
        "basePath": "/",
        "produces": ["application/json"],
        "x-top": "level",
        "parameters": {
            "dryRun-q": { "name": "dryRun", "in": "query", "type": "string", "uniqueItems": true }
        },
        "paths": {
            "x-paths": 1,
            "/api/v1/namespaces/{namespace}/configmaps/{name}": {
                "parameters": [
                    { "name": "name", "in": "path", "required": true, "type": "string", "uniqueItems": true },
                    { "$ref": "#/parameters/dryRun-q" }
                ],
                "patch": {
                    "tags": ["core_v1"],
                    "operationId": "patchCoreV1NamespacedConfigMap",
                    "consumes": ["application/merge-patch+json"],
                    "produces": ["application/json"],
                    "schemes": ["https"],
                    "parameters": [
                        { "name": "body", "in": "body", "required": true, "schema": { "type": "object" } },
                        { "name": "fieldValidation", "in": "query", "type": "string", "enum": ["Strict", "on"] },
                        { "name": "X-Trace", "in": "header", "type": "string" },
                        { "name": "note", "in": "formData", "type": "string", "allowEmptyValue": true }
                    ],
                    "responses": {
                        "200": { "description": "OK", "schema": { "$ref": "#/definitions/io.k8s.api.core.v1.ConfigMap" } },
                        "401": { "$ref": "#/responses/unauthorized" },
                        "x-responses": true
                    },
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": { "group": "", "kind": "ConfigMap", "version": "v1" }
                }
            }
        },
        "definitions": {
            "io.k8s.api.core.v1.ConfigMap": {
                "description": "ConfigMap holds configuration data.",
                "type": "object",
                "required": ["metadata"],
                "properties": {
                    "data": { "type": "object", "additionalProperties": { "type": "string", "default": "" } },
                    "binaryData": { "type": "object", "additionalProperties": false },
                    "immutable": { "type": "boolean", "default": false },
                    "metadata": { "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" },
                    "ports": { "type": "array", "items": { "type": "integer", "format": "int32", "minimum": -5, "maximum": 65535 }, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port"] },
                    "either": { "type": ["string", "integer"] },
                    "tuple": { "items": [{ "type": "string" }, { "type": "integer" }] },
                    "upload": { "type": "file" }
                },
                "x-kubernetes-group-version-kind": [{ "group": "", "kind": "ConfigMap", "version": "v1" }]
            }
        },
        "securityDefinitions": {
            "BearerToken": { "description": "Bearer Token authentication", "type": "apiKey", "name": "authorization", "in": "header" },
            "Basic": { "type": "basic" }
        },
        "security": [{ "BearerToken": [] }, { "Basic": ["a", "b"] }]
    });
    let d = round_trip(&doc);
    assert_eq!(d.swagger, "2.0");
    let info = d.info.as_ref().expect("info");
    assert_eq!(
        (info.title.as_str(), info.version.as_str()),
        ("Kubernetes", "unversioned")
    );
    assert_eq!(d.base_path, "/");
    assert_eq!(d.produces, ["application/json"]);
    assert_eq!(
        Value::Object(extensions(&d.vendor_extension)),
        json!({ "x-top": "level" })
    );

    let globals = &d
        .parameters
        .as_ref()
        .expect("parameters")
        .additional_properties;
    assert_eq!(globals.len(), 1);
    assert_eq!(globals[0].name, "dryRun-q");
    match globals[0].value.as_ref().and_then(|p| p.oneof.as_ref()) {
        Some(ParameterCase::NonBody(NonBodyParameter {
            oneof: Some(NonBodyCase::Query(q)),
        })) => {
            assert_eq!(
                (q.name.as_str(), q.r#in.as_str(), q.unique_items),
                ("dryRun", "query", true)
            )
        }
        other => panic!("global parameter: {other:?}"),
    }

    let paths = d.paths.as_ref().expect("paths");
    assert_eq!(
        Value::Object(extensions(&paths.vendor_extension)),
        json!({ "x-paths": 1 })
    );
    assert_eq!(paths.path.len(), 1);
    assert_eq!(
        paths.path[0].name,
        "/api/v1/namespaces/{namespace}/configmaps/{name}"
    );
    let item = paths.path[0].value.as_ref().expect("a path item");
    assert!(
        item.get.is_none() && item.put.is_none() && item.post.is_none() && item.delete.is_none()
    );
    match item
        .parameters
        .iter()
        .map(|p| p.oneof.clone())
        .collect::<Vec<_>>()
        .as_slice()
    {
        [Some(ParametersItemCase::Parameter(Parameter {
            oneof:
                Some(ParameterCase::NonBody(NonBodyParameter {
                    oneof: Some(NonBodyCase::Path(p)),
                })),
        })), Some(ParametersItemCase::JsonReference(r))] => {
            assert_eq!(
                (
                    p.name.as_str(),
                    p.r#in.as_str(),
                    p.required,
                    p.r#type.as_str(),
                    p.unique_items
                ),
                ("name", "path", true, "string", true)
            );
            assert_eq!(r.xref, "#/parameters/dryRun-q");
        }
        other => panic!("path item parameters: {other:?}"),
    }

    let patch = item.patch.as_ref().expect("a patch operation");
    assert_eq!(patch.tags, ["core_v1"]);
    assert_eq!(patch.operation_id, "patchCoreV1NamespacedConfigMap");
    assert_eq!(patch.consumes, ["application/merge-patch+json"]);
    assert_eq!(patch.produces, ["application/json"]);
    assert_eq!(patch.schemes, ["https"]);
    assert_eq!(
        Value::Object(extensions(&patch.vendor_extension)),
        json!({
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": { "group": "", "kind": "ConfigMap", "version": "v1" }
        })
    );
    let params: Vec<_> = patch
        .parameters
        .iter()
        .map(|p| match &p.oneof {
            Some(ParametersItemCase::Parameter(Parameter { oneof: Some(c) })) => c.clone(),
            other => panic!("operation parameter: {other:?}"),
        })
        .collect();
    match params.as_slice() {
        [ParameterCase::Body(body), ParameterCase::NonBody(NonBodyParameter {
            oneof: Some(NonBodyCase::Query(q)),
        }), ParameterCase::NonBody(NonBodyParameter {
            oneof: Some(NonBodyCase::Header(h)),
        }), ParameterCase::NonBody(NonBodyParameter {
            oneof: Some(NonBodyCase::FormData(f)),
        })] => {
            assert_eq!(
                (body.name.as_str(), body.r#in.as_str(), body.required),
                ("body", "body", true)
            );
            assert_eq!(
                schema_json(body.schema.as_ref().expect("a schema")),
                json!({ "type": "object" })
            );
            assert_eq!(
                (q.name.as_str(), q.r#type.as_str()),
                ("fieldValidation", "string")
            );
            // "on" stays a string for a YAML 1.1 reader: the text is JSON.
            let values: Vec<&str> = q.r#enum.iter().map(|a| a.yaml.as_str()).collect();
            assert_eq!(values, [r#""Strict""#, r#""on""#]);
            assert_eq!((h.name.as_str(), h.r#in.as_str()), ("X-Trace", "header"));
            assert_eq!((f.name.as_str(), f.allow_empty_value), ("note", true));
        }
        other => panic!("operation parameters: {other:?}"),
    }
    let responses = patch.responses.as_ref().expect("responses");
    assert_eq!(
        Value::Object(extensions(&responses.vendor_extension)),
        json!({ "x-responses": true })
    );
    let codes: Vec<&str> = responses
        .response_code
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(codes, ["200", "401"]);
    match responses.response_code[0]
        .value
        .as_ref()
        .and_then(|v| v.oneof.as_ref())
    {
        Some(ResponseValueCase::Response(r)) => {
            assert_eq!(r.description, "OK");
            match r.schema.as_ref().and_then(|s| s.oneof.as_ref()) {
                Some(SchemaItemCase::Schema(s)) => {
                    assert_eq!(s.xref, "#/definitions/io.k8s.api.core.v1.ConfigMap")
                }
                other => panic!("response schema: {other:?}"),
            }
        }
        other => panic!("200: {other:?}"),
    }
    match responses.response_code[1]
        .value
        .as_ref()
        .and_then(|v| v.oneof.as_ref())
    {
        Some(ResponseValueCase::JsonReference(r)) => assert_eq!(r.xref, "#/responses/unauthorized"),
        other => panic!("401: {other:?}"),
    }

    // The definition reads back to its JSON (lists of types and of item
    // schemas included), but for the zero scalars proto3 leaves out.
    let defs = &d
        .definitions
        .as_ref()
        .expect("definitions")
        .additional_properties;
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0].name, "io.k8s.api.core.v1.ConfigMap");
    let config_map = schema_json(defs[0].value.as_ref().expect("a schema"));
    let expected = &doc["definitions"]["io.k8s.api.core.v1.ConfigMap"];
    assert_eq!(config_map, without_zero_scalars(expected));
    // Kept although zero or false: a default (an Any), a oneof's case.
    let props = &config_map["properties"];
    assert_eq!(props["immutable"]["default"], json!(false));
    assert_eq!(props["binaryData"]["additionalProperties"], json!(false));
    assert_eq!(props["either"]["type"], json!(["string", "integer"]));

    let security: Vec<(String, Vec<String>)> = d
        .security
        .iter()
        .flat_map(|r| &r.additional_properties)
        .map(|n| (n.name.clone(), n.value.clone().expect("a list").value))
        .collect();
    assert_eq!(
        security,
        [
            ("BearerToken".to_string(), vec![]),
            ("Basic".to_string(), vec!["a".to_string(), "b".to_string()])
        ]
    );
    let sec = &d
        .security_definitions
        .as_ref()
        .expect("security definitions")
        .additional_properties;
    match sec
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.value.as_ref().and_then(|v| v.oneof.clone()),
            )
        })
        .collect::<Vec<_>>()
        .as_slice()
    {
        [("BearerToken", Some(SecurityDefinitionsCase::ApiKey(k))), ("Basic", Some(SecurityDefinitionsCase::Basic(b)))] =>
        {
            assert_eq!(
                (
                    k.r#type.as_str(),
                    k.name.as_str(),
                    k.r#in.as_str(),
                    k.description.as_str()
                ),
                (
                    "apiKey",
                    "authorization",
                    "header",
                    "Bearer Token authentication"
                )
            );
            assert_eq!(b.r#type, "basic");
        }
        other => panic!("security definitions: {other:?}"),
    }
}

#[test]
fn values_without_a_place_are_reported() {
    let encoded = encode_document(&json!({
        "swagger": 2,
        "nonsense": {},
        "paths": { "/a": { "get": { "parameters": [{ "name": "x", "in": "cookie" }] } } },
        "definitions": { "a": { "properties": { "b": { "nullable": true } } } }
    }));
    assert_eq!(
        encoded.skipped,
        [
            "/swagger: not a string",
            "/paths/~1a/get/parameters/0: no case of the oneof takes this value",
            "/definitions/a/properties/b/nullable: no field for this key",
            "/nonsense: no field for this key",
        ]
    );
}

/// The served document: everything in it has a place in the message, and
/// what kubectl reads from it reads back as in the JSON.
#[test]
fn the_served_document_encodes_whole() {
    let api = crate::openapi::OpenApi::build(crate::registry::catalog().all());
    let json: Value = serde_json::from_slice(api.v2()).expect("the v2 JSON");
    let d = round_trip(&json);
    assert_eq!(d.swagger, "2.0");

    // Every definition, schema by schema.
    let defs = json["definitions"].as_object().expect("definitions");
    let decoded = &d
        .definitions
        .as_ref()
        .expect("definitions")
        .additional_properties;
    assert_eq!(decoded.len(), defs.len());
    for named in decoded {
        let original = &defs[&named.name];
        assert_eq!(
            schema_json(named.value.as_ref().expect("a schema")),
            without_zero_scalars(original),
            "definition {}",
            named.name
        );
    }

    // The PATCH operations and their kinds and parameters, as kubectl's
    // fieldValidation check looks for them.
    let paths = &d.paths.as_ref().expect("paths").path;
    assert_eq!(paths.len(), json["paths"].as_object().expect("paths").len());
    let mut patches = 0;
    for p in paths {
        let Some(patch) = p.value.as_ref().and_then(|v| v.patch.as_ref()) else {
            continue;
        };
        let original = &json["paths"][&p.name]["patch"];
        let ext = extensions(&patch.vendor_extension);
        assert_eq!(
            ext.get("x-kubernetes-group-version-kind"),
            original.get("x-kubernetes-group-version-kind"),
            "{}",
            p.name
        );
        let names: Vec<&str> = patch
            .parameters
            .iter()
            .filter_map(|item| match &item.oneof {
                Some(ParametersItemCase::Parameter(Parameter {
                    oneof:
                        Some(ParameterCase::NonBody(NonBodyParameter {
                            oneof: Some(NonBodyCase::Query(q)),
                        })),
                })) => Some(q.name.as_str()),
                _ => None,
            })
            .collect();
        let expected: Vec<&str> = original["parameters"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, expected, "{}", p.name);
        patches += 1;
    }
    assert!(patches > 10, "only {patches} PATCH operations");
    let config_map = paths
        .iter()
        .find(|p| p.name == "/api/v1/namespaces/{namespace}/configmaps/{name}")
        .and_then(|p| p.value.as_ref()?.patch.as_ref())
        .expect("PATCH of a ConfigMap");
    assert_eq!(
        extensions(&config_map.vendor_extension)["x-kubernetes-group-version-kind"],
        json!({ "group": "", "kind": "ConfigMap", "version": "v1" })
    );
    assert!(config_map.parameters.iter().any(|item| matches!(
        &item.oneof,
        Some(ParametersItemCase::Parameter(Parameter {
            oneof: Some(ParameterCase::NonBody(NonBodyParameter { oneof: Some(NonBodyCase::Query(q)) })),
        })) if q.name == "fieldValidation"
    )));
}
