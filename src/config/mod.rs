//! Configuration: Aperture's HuJSON format, validated into an immutable [`Config`], with every
//! problem reported with its JSON path. The filter and the CLI share this code.

mod access;
mod hujson;
mod load;
mod model;

pub use hujson::to_json as hujson_to_json;
pub use load::{env_references, load, Diagnostic, EnvMode, Loaded};
pub use model::{
    AuthMode, AuthScheme, BaseUrl, Compatibility, Config, ModelPattern, Provider, Scheme, Secret,
    Settings,
};
