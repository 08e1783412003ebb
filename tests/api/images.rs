//! Product images: uploaded by an operator, checked by content, stored once by their
//! hash, served with caching, shown in every product answer and captured in order lines;
//! through the local store and through a real S3-compatible server.

use std::path::Path;

use aggregates::product::ProductEvent;
use ordo::media::{MediaStore, MediaStoreSetting, MediaUrls};
use ordo::state::AppSettings;
use projections::Projector;
use projections::rebuild::rebuild;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use uuid::Uuid;

use crate::support::s3::{FakeS3, files_under};
use crate::support::{TestApp, fresh_database, settle, spawn_app_with, start};

const TEA: &[u8] = include_bytes!("../fixtures/tea.png");
const CUP: &[u8] = include_bytes!("../fixtures/cup.jpg");
const POT: &[u8] = include_bytes!("../fixtures/pot.webp");

/// An app in dev mode whose images go to files in a directory of its own.
pub(crate) async fn app_with_local_images() -> (TestApp, TempDir) {
    let dir = tempfile::tempdir().expect("a media directory");
    let store = MediaStore::local(dir.path()).expect("the local store");
    (app_with(store, None).await, dir)
}

async fn app_with(store: MediaStore, base_url: Option<&str>) -> TestApp {
    spawn_app_with(AppSettings {
        dev_mode: true,
        media: Some(store),
        media_urls: MediaUrls::from_setting(base_url).expect("a base URL"),
        ..AppSettings::default()
    })
    .await
}

fn images_path(product: Uuid) -> String {
    format!("/api/v1/admin/products/{product}/images")
}

/// Uploads `bytes` as the product's `file`: the image's URL.
async fn upload(app: &TestApp, product: Uuid, name: &str, bytes: &[u8]) -> String {
    let answer = app
        .admin()
        .upload(&images_path(product), &[("file", name, bytes)])
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["data"]["url"]
        .as_str()
        .expect("the image's url")
        .to_owned()
}

async fn shown_images(app: &TestApp, product: Uuid) -> Vec<String> {
    let answer = app.anon().get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    strings(&answer.body["data"]["images"])
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

#[tokio::test]
async fn an_image_is_uploaded_listed_served_with_a_304_and_removed() {
    let (app, dir) = app_with_local_images().await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;

    let tea = upload(&app, product, "tea.png", TEA).await;
    let cup = upload(&app, product, "cup.jpg", CUP).await;
    let pot = upload(&app, product, "pot.webp", POT).await;
    assert!(tea.starts_with("/media/") && tea.ends_with(".png"), "{tea}");
    assert!(
        cup.ends_with(".jpg") && pot.ends_with(".webp"),
        "{cup} {pot}"
    );

    // Listed in order, the first the cover, in the shop's list and the operator's view.
    assert_eq!(
        shown_images(&app, product).await,
        [tea.as_str(), cup.as_str(), pot.as_str()]
    );
    let list = app.anon().get("/api/v1/products").await;
    assert_eq!(
        strings(&list.body["data"]["list"][0]["images"]),
        [tea.as_str(), cup.as_str(), pot.as_str()]
    );

    // Served as stored, with its type, a strong ETag and a long cache life.
    let (status, headers, bytes) = app.anon().fetch(&cup, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, CUP);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    // Bytes that start like an image are never taken for a page on the API's origin.
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    let etag = headers["etag"].to_str().expect("an etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() == 66, "{etag}");
    let (status, _, bytes) = app.anon().fetch(&pot, &[]).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, POT));

    // A client holding the copy is told it is current, with no body.
    let (status, headers, bytes) = app.anon().fetch(&cup, &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(headers["etag"], etag.as_str());
    assert!(bytes.is_empty());
    // Weak or in a list, the tag is recognised; `*` or another tag is not.
    let listed = format!("\"another\", W/{etag}");
    let (status, _, _) = app.anon().fetch(&cup, &[("if-none-match", &listed)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    for other in ["\"another\"", "*"] {
        let (status, _, _) = app.anon().fetch(&cup, &[("if-none-match", other)]).await;
        assert_eq!(status, StatusCode::OK, "{other}");
    }
    let (status, _, _) = app
        .anon()
        .fetch(
            &format!("/media/{}.png", "0".repeat(64)),
            &[("if-none-match", "*")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "never stored: no 304 for *");

    // Removing the cover makes the next image the cover.
    let removed = app
        .admin()
        .delete(&format!("{}?url={tea}", images_path(product)))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert_eq!(
        strings(&removed.body["data"]["images"]),
        [cup.as_str(), pot.as_str()]
    );
    assert_eq!(
        shown_images(&app, product).await,
        [cup.as_str(), pot.as_str()]
    );
    // ... and removing it again names what is missing.
    let again = app
        .admin()
        .delete(&format!("{}?url={tea}", images_path(product)))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);
    assert_eq!(again.body["message"], "image not found");

    // The files are the three images, each under its content hash.
    let files = files_under(dir.path());
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(app.count_events(ProductEvent::PRODUCT_IMAGE_ADDED).await, 3);
    assert_eq!(
        app.count_events(ProductEvent::PRODUCT_IMAGE_REMOVED).await,
        1
    );
}

#[tokio::test]
async fn the_same_image_twice_is_stored_once_and_listed_once() {
    let (app, dir) = app_with_local_images().await;
    let oolong = app.admin().create_product("Oolong", 4_800, 10).await;
    let sencha = app.admin().create_product("Sencha", 3_800, 10).await;

    let first = upload(&app, oolong, "tea.png", TEA).await;
    let again = upload(&app, oolong, "same-tea.png", TEA).await;
    let elsewhere = upload(&app, sencha, "tea.png", TEA).await;

    assert_eq!(first, again);
    assert_eq!(first, elsewhere);
    assert_eq!(shown_images(&app, oolong).await, [first.as_str()]);
    assert_eq!(shown_images(&app, sencha).await, [first.as_str()]);
    assert_eq!(files_under(dir.path()).len(), 1);
    assert_eq!(app.count_events(ProductEvent::PRODUCT_IMAGE_ADDED).await, 2);
}

#[tokio::test]
async fn a_non_image_or_an_oversized_upload_is_refused_naming_the_reason() {
    let (app, dir) = app_with_local_images().await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;
    let admin = app.admin();
    let path = images_path(product);

    // Judged by content: a PNG's name and type do not make an SVG, a GIF or a script one.
    for (name, bytes) in [
        (
            "logo.png",
            &b"<svg xmlns='http://www.w3.org/2000/svg'/>"[..],
        ),
        ("anim.png", b"GIF89a\x01\x00\x01\x00"),
        ("x.png", b"#!/bin/sh\nrm -rf /\n"),
        ("empty.png", b""),
    ] {
        let answer = admin.upload(&path, &[("file", name, bytes)]).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        assert_eq!(answer.body["code"], 41500);
        assert_eq!(
            answer.body["message"],
            "file: not a JPEG, PNG or WebP image (judged by its content)"
        );
    }

    // Over 5 MiB: a real PNG header does not let it in.
    let mut big = TEA.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let answer = admin.upload(&path, &[("file", "big.png", &big)]).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["message"], "file: larger than 5 MiB");
    // Far over: the body limit stops it before it is read whole.
    let huge = vec![0_u8; 8 * 1024 * 1024];
    let answer = admin.upload(&path, &[("file", "huge.png", &huge)]).await;
    assert_eq!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.body
    );
    // Exactly 5 MiB is accepted.
    big.truncate(5 * 1024 * 1024);
    upload(&app, product, "big.png", &big).await;

    // A form without `file`, with two, or with another field; not a form at all.
    let missing = admin.upload(&path, &[("image", "tea.png", TEA)]).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert!(
        missing.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("unexpected form field \"image\"")),
        "{}",
        missing.body
    );
    let empty = admin.upload(&path, &[]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.body);
    assert_eq!(
        empty.body["message"],
        "file: missing: send the image as `file`"
    );
    let two = admin
        .upload(&path, &[("file", "tea.png", TEA), ("file", "cup.jpg", CUP)])
        .await;
    assert_eq!(two.status, StatusCode::BAD_REQUEST, "{}", two.body);
    assert_eq!(two.body["message"], "file: one file per upload");
    let json = admin.post(&path, &serde_json::json!({"file": "x"})).await;
    assert_eq!(json.status, StatusCode::BAD_REQUEST, "{}", json.body);

    // Shoppers may not upload; an unknown product stores nothing.
    let shopper = app.shopper("mei").await;
    let answer = shopper.upload(&path, &[("file", "tea.png", TEA)]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let answer = admin
        .upload(&images_path(Uuid::new_v4()), &[("file", "cup.jpg", CUP)])
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert_eq!(answer.body["message"], "product not found");

    // Only the 5 MiB image was stored and listed.
    assert_eq!(files_under(dir.path()).len(), 1);
    assert_eq!(shown_images(&app, product).await.len(), 1);
}

#[tokio::test]
async fn a_product_shows_at_most_nine_images() {
    let (app, _dir) = app_with_local_images().await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;
    for n in 0..9_u8 {
        let mut image = TEA.to_vec();
        image.push(n); // trailing bytes after IEND: another file, still a PNG
        upload(&app, product, "tea.png", &image).await;
    }
    let answer = app
        .admin()
        .upload(&images_path(product), &[("file", "cup.jpg", CUP)])
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    assert_eq!(
        answer.body["message"],
        "a product shows at most 9 images: remove one first"
    );
    assert_eq!(shown_images(&app, product).await.len(), 9);
}

#[tokio::test]
async fn media_keys_are_checked_before_any_store_is_read() {
    let (app, _dir) = app_with_local_images().await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;
    let url = upload(&app, product, "tea.png", TEA).await;
    let key = url.trim_start_matches("/media/");
    for path in [
        "/media/..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/media/%00.png".to_owned(),
        format!("/media/{}", key.to_uppercase()),
        format!("/media/{}", key.replace(".png", ".jpg")),
        format!("/media/{}.png", "0".repeat(64)),
        format!("/media/{}", "a".repeat(10_000)),
    ] {
        let answer = app.anon().get(&path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.body["message"], "image not found", "{path}");
    }
    // A removal by a hostile URL is refused, naming it.
    for (url, status) in [
        ("", StatusCode::UNPROCESSABLE_ENTITY),
        ("/media/x\u{0}.png", StatusCode::UNPROCESSABLE_ENTITY),
        ("/media/nothing.png", StatusCode::NOT_FOUND),
    ] {
        let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
        let answer = app
            .admin()
            .delete(&format!("{}?url={encoded}", images_path(product)))
            .await;
        assert_eq!(answer.status, status, "{url:?}: {}", answer.body);
    }
    let answer = app.admin().delete(&images_path(product)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let answer = app
        .admin()
        .delete(&format!("{}?url={url}", images_path(Uuid::new_v4())))
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert_eq!(answer.body["message"], "product not found");
    assert_eq!(shown_images(&app, product).await, [url.as_str()]);
}

#[tokio::test]
async fn an_order_line_keeps_the_cover_of_when_it_was_placed_and_images_survive_a_rebuild() {
    let (app, _dir) = app_with_local_images().await;
    let oolong = app.admin().create_product("Oolong", 4_800, 10).await;
    let plain = app.admin().create_product("Plain", 1_000, 10).await;
    let tea = upload(&app, oolong, "tea.png", TEA).await;
    let cup = upload(&app, oolong, "cup.jpg", CUP).await;

    let (status, placed) = app
        .user("mei")
        .place_order(&[(oolong, 1), (plain, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = placed["data"]["id"].as_str().expect("order id").to_owned();
    assert_eq!(placed["data"]["lines"][0]["image"], tea.as_str());
    assert_eq!(placed["data"]["lines"][1]["image"], Value::Null);

    // The cover changes afterwards; the order still shows the one it was placed with.
    let removed = app
        .admin()
        .delete(&format!("{}?url={tea}", images_path(oolong)))
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    let (status, later) = app
        .user("lei")
        .place_order(&[(oolong, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_eq!(later["data"]["lines"][0]["image"], cup.as_str());
    settle(&app.pool).await;
    let shopper = app.user("mei");
    let seen = shopper.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(seen.body["data"]["lines"][0]["image"], tea.as_str());
    let listed = shopper.get("/api/v1/orders").await;
    assert_eq!(
        listed.body["data"]["list"][0]["lines"][0]["image"],
        tea.as_str()
    );

    // Rebuilt from the events, the read models show the same images.
    let projector = Projector::new(app.pool.clone(), projections::all());
    for name in ["catalog", "orders"] {
        rebuild(&projector, name, |_| {}).await.expect("rebuild");
    }
    assert_eq!(shown_images(&app, oolong).await, [cup.as_str()]);
    assert!(shown_images(&app, plain).await.is_empty());
    let seen = shopper.get(&format!("/api/v1/orders/{order}")).await;
    assert_eq!(seen.body["data"]["lines"][0]["image"], tea.as_str());
    // ... and the image a past order shows is still served.
    let (status, _, bytes) = app.anon().fetch(&tea, &[]).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, TEA));
}

#[tokio::test]
async fn images_go_to_a_real_s3_server_under_the_prefix_and_urls_use_the_public_base() {
    let s3 = FakeS3::start("shop-media").await;
    let store = s3.media_store("s3://shop-media/products/images");
    let app = app_with(store, Some("https://cdn.example.com/images/")).await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;

    let url = upload(&app, product, "cup.jpg", CUP).await;
    assert!(url.starts_with("https://cdn.example.com/images/"), "{url}");
    let key = url.rsplit('/').next().expect("a key");
    assert_eq!(upload(&app, product, "again.jpg", CUP).await, url);
    assert_eq!(shown_images(&app, product).await, [url.as_str()]);

    // One object, under the bucket and the prefix, holding the bytes.
    let objects = s3.objects();
    let expected = Path::new("shop-media/products/images").join(key);
    assert_eq!(objects, [expected]);
    // It carries its type and caching, so a CDN can serve it straight from the bucket.
    let metadata = s3.metadata();
    assert!(
        metadata.contains("image/jpeg") && metadata.contains("immutable"),
        "{metadata}"
    );

    // ordo serves it from S3 too (the CDN's origin may be ordo or the bucket).
    let (status, headers, bytes) = app.anon().fetch(&format!("/media/{key}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, CUP);
    assert_eq!(headers["content-type"], "image/jpeg");
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    let (status, _, _) = app
        .anon()
        .fetch(&format!("/media/{key}"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Removing it by the CDN URL works like by ordo's own.
    let encoded: String = form_urlencoded::byte_serialize(url.as_bytes()).collect();
    let removed = app
        .admin()
        .delete(&format!("{}?url={encoded}", images_path(product)))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    assert!(shown_images(&app, product).await.is_empty());
}

#[tokio::test]
async fn s3_credentials_that_the_server_refuses_make_an_upload_a_503_and_list_nothing() {
    let s3 = FakeS3::start("shop-media").await;
    let mut options = s3.aws_options();
    for (name, value) in &mut options {
        if name == "AWS_SECRET_ACCESS_KEY" {
            *value = "a wrong secret".to_owned();
        }
    }
    let setting =
        MediaStoreSetting::parse("s3://shop-media", Path::new("unused")).expect("an s3 URL");
    let store = MediaStore::open(&setting, &options).expect("open");
    let app = app_with(store, None).await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;
    let answer = app
        .admin()
        .upload(&images_path(product), &[("file", "tea.png", TEA)])
        .await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert!(shown_images(&app, product).await.is_empty());
    assert!(s3.objects().is_empty());
    assert_eq!(app.count_events(ProductEvent::PRODUCT_IMAGE_ADDED).await, 0);
}

#[test]
fn the_media_store_setting_is_read_as_documented() {
    let data = Path::new("/var/lib/ordo");
    assert_eq!(
        MediaStoreSetting::parse("", data).expect("blank"),
        MediaStoreSetting::Local(data.join("media"))
    );
    assert_eq!(
        MediaStoreSetting::parse("s3://bucket/a/b/", data).expect("s3"),
        MediaStoreSetting::S3 {
            bucket: "bucket".into(),
            prefix: "a/b".into()
        }
    );
    assert_eq!(
        MediaStoreSetting::parse("file:///srv/media", data).expect("file"),
        MediaStoreSetting::Local("/srv/media".into())
    );
    for wrong in [
        "s3://",
        "s3:///prefix",
        "gs://bucket/x",
        "https://example.com",
    ] {
        let err = MediaStoreSetting::parse(wrong, data).expect_err(wrong);
        assert!(err.to_string().starts_with("ORDO_MEDIA_STORE: "), "{err}");
    }
}

#[tokio::test]
async fn an_image_re_added_on_one_server_after_another_removed_it_is_listed_again() {
    let dir = tempfile::tempdir().expect("a media directory");
    let (pool, _) = fresh_database().await;
    let settings = || AppSettings {
        dev_mode: true,
        media: Some(MediaStore::local(dir.path()).expect("the shared store")),
        ..AppSettings::default()
    };
    let (one, two) = (
        start(pool.clone(), settings()).await,
        start(pool, settings()).await,
    );
    let product = one.admin().create_product("Oolong", 4_800, 10).await;

    let url = upload(&one, product, "tea.png", TEA).await;
    let removed = two
        .admin()
        .delete(&format!("{}?url={url}", images_path(product)))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    // The first server still holds the product as it was: it must not take the image
    // for listed.
    assert_eq!(upload(&one, product, "tea.png", TEA).await, url);
    assert_eq!(shown_images(&two, product).await, [url.as_str()]);
    assert_eq!(one.count_events(ProductEvent::PRODUCT_IMAGE_ADDED).await, 2);
    // ... and a removal on the first of what the second added is found, not a 404.
    let cup = upload(&two, product, "cup.jpg", CUP).await;
    let removed = one
        .admin()
        .delete(&format!("{}?url={cup}", images_path(product)))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
}

#[tokio::test]
async fn a_stored_file_cut_short_is_written_again_by_the_next_upload() {
    let (app, dir) = app_with_local_images().await;
    let product = app.admin().create_product("Oolong", 4_800, 10).await;
    let url = upload(&app, product, "tea.png", TEA).await;
    let key = url.trim_start_matches("/media/");
    // A crash left the file empty (written, not yet on disk).
    std::fs::write(dir.path().join(key), b"").expect("cut the file short");

    assert_eq!(upload(&app, product, "tea.png", TEA).await, url);
    assert_eq!(std::fs::read(dir.path().join(key)).expect("the file"), TEA);
    let (status, _, bytes) = app.anon().fetch(&url, &[]).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, TEA));
}
