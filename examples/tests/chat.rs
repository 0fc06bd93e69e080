//! The chat example through the test client: the echo, two members of the room, and a
//! stranger turned away at the upgrade.

use erlen::Message;

#[test]
fn members_hear_each_other_and_strangers_are_refused() {
    let client = erlen_examples::chat::app().test_client();

    let mut echo = client.websocket("/echo").connect().unwrap();
    echo.send_text("hello").unwrap();
    assert_eq!(echo.receive(), Some(Message::text("hello")));

    let mut alice = client.websocket("/chat/alice?token=letmein").connect().unwrap();
    let mut bob = client.websocket("/chat/bob?token=letmein").connect().unwrap();
    assert_eq!(alice.receive(), Some(Message::text("welcome, alice")));
    assert_eq!(bob.receive(), Some(Message::text("welcome, bob")));
    alice.send_text("hi bob").unwrap();
    assert_eq!(bob.receive(), Some(Message::text("alice: hi bob")));
    assert_eq!(alice.receive(), Some(Message::text("alice: hi bob")));

    let stranger = client.websocket("/chat/eve").connect().unwrap_err();
    assert_eq!(stranger.status(), 401);
    assert_eq!(stranger.text(), "sign in to chat");
}
