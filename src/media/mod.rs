//! Product images: uploads checked by content, stored once under their content hash in
//! an object store (files under the data directory by default, S3-compatible storage in
//! production), and the URLs the API shows for them.

pub mod image;
pub mod key;
mod store;
mod urls;

pub use image::{ImageKind, MAX_IMAGE_BYTES};
pub use key::MediaKey;
pub use store::{CACHE_CONTROL, MediaError, MediaStore, MediaStoreSetting, StoredImage};
pub use urls::MediaUrls;
