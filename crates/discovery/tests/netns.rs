//! Real mDNS between two daemons, inside a private user + network namespace made by the test
//! itself, so that nothing is multicast on the real LAN.

use std::time::Duration;

use chinwag_discovery::test_support::in_private_netns;
use chinwag_discovery::{Advertisement, Advertiser, Browser, HubEvent, Options};

#[test]
fn a_hub_is_found_with_its_txt_and_its_goodbye_removes_it() {
    if in_private_netns("a_hub_is_found_with_its_txt_and_its_goodbye_removes_it") {
        return;
    }
    let options = Options {
        include_loopback: true,
    };
    let mut browser = Browser::start(options).expect("browser");
    let ad = Advertisement {
        hub_id: "0123456789abcdef0123456789abcdef".into(),
        name: "Office hub".into(),
        port: 7117,
        protocol: 1,
        version: "0.1.0".into(),
    };
    // A second hub with the same display name must not collide.
    let twin = Advertisement {
        hub_id: "fedcba9876543210fedcba9876543210".into(),
        ..ad.clone()
    };
    let advertiser = Advertiser::start(&ad, options).expect("advertises");
    let twin_advertiser = Advertiser::start(&twin, options).expect("advertises");

    let mut seen = std::collections::HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 2 && std::time::Instant::now() < deadline {
        if let Some(HubEvent::Added(hub) | HubEvent::Updated(hub)) =
            browser.next_timeout(Duration::from_secs(1))
        {
            seen.insert(hub.id.clone(), hub);
        }
    }
    let hub = seen.get(&ad.hub_id).expect("the hub is found");
    assert_eq!(hub.name, "Office hub");
    assert_eq!(hub.protocol, Some(1));
    assert_eq!(hub.version.as_deref(), Some("0.1.0"));
    assert_eq!(hub.port, 7117);
    assert_eq!(hub.addresses[0].to_string(), "127.0.0.1");
    assert!(
        seen.contains_key(&twin.hub_id),
        "two hubs with one name are both found"
    );

    // A clean shutdown says goodbye: the browser drops it within a couple of seconds.
    let started = std::time::Instant::now();
    advertiser.stop();
    let mut removed = false;
    while !removed && started.elapsed() < Duration::from_secs(5) {
        removed = browser.next_timeout(Duration::from_millis(500))
            == Some(HubEvent::Removed(ad.hub_id.clone()));
    }
    assert!(removed, "goodbye removes the hub");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "within about a second: {:?}",
        started.elapsed()
    );
    assert!(
        browser.hubs().any(|h| h.id == twin.hub_id),
        "the other hub stays"
    );
    twin_advertiser.stop();
}
