//! The publish commands end to end: files are validated, uploaded to the
//! local store the sandbox serves, published once; the ledger and token
//! commands; no token in any output.

use crate::common;

use crate::common::{cli as storyforge, text};

#[test]
fn files_are_validated_uploaded_and_published_once() {
    let rig = common::Rig::start(|_| {});
    let (sandbox, config) = (&rig.sandbox, &rig.config);
    let token = rig.work.path().join("demo.token");
    let good = common::root().join("fixtures/bad/ok-story.jpg");
    let png = common::root().join("fixtures/bad/SF101-png-named.jpg");
    let out = storyforge(
        &["publish", good.to_str().unwrap(), png.to_str().unwrap()],
        config,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("ok-story.jpg: published as media "), "{all}");
    assert!(
        all.contains("SF101-png-named.jpg: not published: SF101 image-not-jpeg"),
        "{all}"
    );
    assert_eq!(sandbox.published().len(), 1);
    // Again: nothing new is published.
    let again = storyforge(&["publish", good.to_str().unwrap(), "--json"], config);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v[0]["status"], "already_published");
    assert_eq!(v[0]["media_id"], sandbox.published()[0].media_id.as_str());
    assert_eq!(sandbox.published().len(), 1);
    let ledger = storyforge(&["ledger", "--json"], config);
    let rows: serde_json::Value = serde_json::from_slice(&ledger.stdout).unwrap();
    // The refused file is recorded too, as failed (never sent to Instagram).
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["state"], "published");
    assert_eq!(rows[1]["state"], "failed");
    assert!(rows[1]["container_id"].is_null());
    assert_eq!(
        rows[0]["media_id"],
        sandbox.published()[0].media_id.as_str()
    );
    let status = storyforge(&["token", "status"], config);
    assert!(text(&status).contains("demo: "), "{}", text(&status));
    for o in [&out, &again, &ledger, &status] {
        assert!(
            !text(o).contains("sandbox-token-demo"),
            "token leaked: {}",
            text(o)
        );
    }
    // A bad token: an auth failure naming the code, never the token.
    std::fs::write(&token, "IGQ-wrong-secret-token").unwrap();
    let other = common::root().join("fixtures/bad/SF109-exif-rotated.jpg");
    let denied = storyforge(&["publish", other.to_str().unwrap()], config);
    assert_eq!(denied.status.code(), Some(1));
    let all = text(&denied);
    assert!(all.contains("190"), "{all}");
    assert!(!all.contains("IGQ-wrong-secret-token"), "{all}");
}
