"""Requests to the MCP client: arguments as the bindings' records, answers
and errors back, against fake bindings."""

from __future__ import annotations

import dataclasses
import json
import unittest
from typing import Literal, Optional, TypedDict

from warden_sdk import (
    Blob,
    ClientError,
    Image,
    Registry,
    ResourceLink,
    Text,
    ToolError,
    assistant,
    client,
    tool,
    user,
)

from .fake_wit import Err, Host, Ok, client as c, installed, types as t


@dataclasses.dataclass
class Booking:
    seats: int
    meal: Literal["none", "veggie"] = "none"
    note: str = ""


class Contact(TypedDict):
    email: str


def answer(text: str = "hello", model: str = "m1", stop: str | None = "endTurn") -> object:
    return c.SamplingResponse(c.Role.ASSISTANT, t.Content_Text(text), model, stop)


class SampleTest(unittest.TestCase):
    def test_a_string_is_one_user_message(self) -> None:
        with installed(Host(answer())) as host:
            result = client.sample("hi")
        ((name, (request,)),) = host.requests
        self.assertEqual(name, "sample")
        self.assertEqual(request.messages, [c.Message(c.Role.USER, t.Content_Text("hi"))])
        self.assertEqual(request.max_tokens, 1024)
        self.assertIsNone(request.system_prompt)
        self.assertIsNone(request.model_preferences)
        self.assertIsNone(request.temperature)
        self.assertEqual(request.stop_sequences, [])
        self.assertEqual(
            (result.text, result.content, result.model, result.stop_reason, result.role),
            ("hello", Text("hello"), "m1", "endTurn", "assistant"),
        )

    def test_messages_and_options(self) -> None:
        with installed(Host(answer())) as host:
            client.sample(
                [user("a"), assistant("b"), "c", user(Image(b"\x89P"))],
                max_tokens=50,
                system_prompt="be brief",
                temperature=1,
                stop_sequences=["\n\n"],
                model_hints="claude",
                speed_priority=1,
            )
        (_, (request,)), = host.requests
        self.assertEqual(
            request.messages,
            [
                c.Message(c.Role.USER, t.Content_Text("a")),
                c.Message(c.Role.ASSISTANT, t.Content_Text("b")),
                c.Message(c.Role.USER, t.Content_Text("c")),
                c.Message(c.Role.USER, t.Content_Blob(t.Blob(b"\x89P", "image/png"))),
            ],
        )
        self.assertEqual(
            (request.max_tokens, request.system_prompt, request.temperature, request.stop_sequences),
            (50, "be brief", 1.0, ["\n\n"]),
        )
        self.assertEqual(request.model_preferences, c.ModelPreferences(["claude"], None, 1.0, None))

    def test_an_image_answer_has_no_text(self) -> None:
        response = c.SamplingResponse(
            c.Role.ASSISTANT, t.Content_Blob(t.Blob(b"GIF", "image/gif")), "m", None
        )
        with installed(Host(response)):
            result = client.sample("draw")
        self.assertEqual((result.text, result.content), ("", Blob(b"GIF", "image/gif")))

    def test_bad_arguments(self) -> None:
        cases = [
            (ValueError, [], {}),
            (ValueError, "x", {"max_tokens": 0}),
            (ValueError, "x", {"max_tokens": True}),
            (ValueError, "x", {"max_tokens": 2**32}),
            (ValueError, "x", {"temperature": float("nan")}),
            (ValueError, "x", {"cost_priority": 1.5}),
            (TypeError, [user(ResourceLink("a://b", "b"))], {}),
            (TypeError, [3], {}),
        ]
        with installed() as host:
            for error, prompt, options in cases:
                with self.subTest(prompt=prompt, options=options), self.assertRaises(error):
                    client.sample(prompt, **options)
        self.assertEqual(host.requests, [])


class ErrorsTest(unittest.TestCase):
    def test_client_errors(self) -> None:
        cases = [
            (c.ClientError_Unsupported, "unsupported"),
            (c.ClientError_Denied, "denied"),
            (c.ClientError_LimitExceeded, "limit_exceeded"),
            (c.ClientError_Failed, "failed"),
        ]
        for case, kind in cases:
            with self.subTest(kind=kind), installed(Host(Err(case("why")))):
                with self.assertRaises(ClientError) as caught:
                    client.list_roots()
            self.assertEqual(
                (caught.exception.kind, caught.exception.message, caught.exception.request),
                (kind, "why", "list-roots"),
            )

    def test_outside_a_component(self) -> None:
        for request, call in [
            ("sample", lambda: client.sample("hi")),
            ("elicit", lambda: client.elicit("?", {"type": "object", "properties": {}})),
            ("elicit", lambda: client.elicit_url("?", "https://example.com")),
            ("list-roots", client.list_roots),
        ]:
            with self.subTest(request=request), self.assertRaises(ClientError) as caught:
                call()
            self.assertEqual((caught.exception.kind, caught.exception.request), ("unsupported", request))

    def test_uncaught_in_a_tool(self) -> None:
        reg = Registry()

        @tool(description="Asks the model", requires=["sampling"], registry=reg)
        def ask() -> str:
            return client.sample("hi").text

        denied = Err(c.ClientError_Denied("sampling is not granted"))
        with installed(Host(denied)), self.assertRaises(ToolError) as caught:
            reg.call_tool("ask", "{}")
        self.assertEqual(caught.exception.kind, "failed")
        self.assertEqual(caught.exception.message, "sample: denied: sampling is not granted")


class ElicitTest(unittest.TestCase):
    SCHEMA = {"type": "object", "properties": {"year": {"type": "integer"}}}

    def test_form(self) -> None:
        with installed(Host(c.ElicitationResponse_Accept('{"year": 2024}'))) as host:
            result = client.elicit("Which year?", self.SCHEMA)
        (_, (request,)), = host.requests
        self.assertIsInstance(request, c.ElicitationRequest_Form)
        self.assertEqual(request.value.message, "Which year?")
        self.assertEqual(json.loads(request.value.requested_schema), self.SCHEMA)
        self.assertEqual((result.action, result.content, result.accepted), ("accept", {"year": 2024}, True))

    def test_decline_and_cancel(self) -> None:
        answers = (c.ElicitationResponse_Decline(), c.ElicitationResponse_Cancel())
        with installed(Host(*answers)):
            declined = client.elicit("?", self.SCHEMA)
            cancelled = client.elicit("?", self.SCHEMA)
        self.assertEqual((declined.action, declined.content, declined.accepted), ("decline", None, False))
        self.assertEqual((cancelled.action, cancelled.content), ("cancel", None))

    def test_answer_that_is_not_an_object(self) -> None:
        for raw in ("[1]", "{nope"):
            with self.subTest(raw=raw), installed(Host(c.ElicitationResponse_Accept(raw))):
                with self.assertRaises(ClientError) as caught:
                    client.elicit("?", self.SCHEMA)
                self.assertEqual((caught.exception.kind, caught.exception.request), ("failed", "elicit"))

    def test_form_from_a_dataclass(self) -> None:
        with installed(Host(c.ElicitationResponse_Accept('{"seats": 2, "meal": "veggie"}'))) as host:
            result = client.elicit("Book", Booking)
        (_, (request,)), = host.requests
        self.assertEqual(
            json.loads(request.value.requested_schema),
            {
                "type": "object",
                "properties": {
                    "seats": {"type": "integer"},
                    "meal": {"type": "string", "enum": ["none", "veggie"], "default": "none"},
                    "note": {"type": "string", "default": ""},
                },
                "required": ["seats"],
            },
        )
        self.assertEqual(result.content, Booking(2, "veggie"))

    def test_form_from_a_typeddict(self) -> None:
        with installed(Host(c.ElicitationResponse_Accept('{"email": "a@b.c"}'))):
            self.assertEqual(client.elicit("Contact", Contact).content, {"email": "a@b.c"})

    def test_answer_that_does_not_fit_the_dataclass(self) -> None:
        with installed(Host(c.ElicitationResponse_Accept('{"seats": "two"}'))):
            with self.assertRaisesRegex(ClientError, "does not fit the form: `seats`: expected an integer"):
                client.elicit("Book", Booking)

    def test_bad_schemas(self) -> None:
        @dataclasses.dataclass
        class Nested:
            booking: Booking

        @dataclasses.dataclass
        class Nullable:
            note: Optional[str] = None

        with installed() as host:
            with self.assertRaisesRegex(ValueError, "must describe an object"):
                client.elicit("?", {"type": "string"})
            with self.assertRaisesRegex(TypeError, "a dataclass or a TypedDict"):
                client.elicit("?", int)
            for cls in (Nested, Nullable):
                with self.subTest(cls=cls), self.assertRaisesRegex(TypeError, "a form holds nothing else"):
                    client.elicit("?", cls)
        self.assertEqual(host.requests, [])

    def test_url(self) -> None:
        with installed(Host(c.ElicitationResponse_Accept(None))) as host:
            result = client.elicit_url("Sign in", "https://example.com/login")
        (_, (request,)), = host.requests
        self.assertEqual(request, c.ElicitationRequest_Url(c.UrlRequest("Sign in", "https://example.com/login")))
        self.assertEqual((result.action, result.content), ("accept", None))


class RootsTest(unittest.TestCase):
    def test_list(self) -> None:
        roots = [c.Root("file:///home/a/project", "project"), c.Root("file:///tmp", None)]
        with installed(Host(roots)):
            found = client.list_roots()
        self.assertEqual(found, [client.Root("file:///home/a/project", "project"), client.Root("file:///tmp")])
        uri, name = found[0]
        self.assertEqual((uri, name), ("file:///home/a/project", "project"))


class AskAllTest(unittest.TestCase):
    def test_a_batch_answered_in_order(self) -> None:
        roots = [c.Root("file:///src", "src")]
        answers = [
            Ok(c.Answer_Sampled(answer("short", "m2", None))),
            Ok(c.Answer_Elicited(c.ElicitationResponse_Accept('{"seats": 2}'))),
            Ok(c.Answer_Elicited(c.ElicitationResponse_Decline())),
            Ok(c.Answer_Elicited(c.ElicitationResponse_Accept(None))),
            Ok(c.Answer_Roots(roots)),
        ]
        with installed(Host(answers)) as host:
            summary, booking, contact, login, found = client.ask_all(
                [
                    ("summary", client.Request.sample("hi", max_tokens=50, model_hints="claude")),
                    ("booking", client.Request.elicit("Book", Booking)),
                    ("contact", client.Request.elicit("Who?", {"type": "object", "properties": {}})),
                    ("login", client.Request.elicit_url("Sign in", "https://example.com/login")),
                    ("roots.1", client.Request.list_roots()),
                ]
            )
        ((name, (batch,)),) = host.requests
        self.assertEqual(name, "ask")
        self.assertEqual([key for key, _ in batch], ["summary", "booking", "contact", "login", "roots.1"])
        sampled, form, schema, url, listed = (request for _, request in batch)
        self.assertEqual(
            sampled,
            c.Request_Sample(
                c.SamplingRequest(
                    [c.Message(c.Role.USER, t.Content_Text("hi"))],
                    None,
                    c.ModelPreferences(["claude"], None, None, None),
                    50,
                    None,
                    [],
                )
            ),
        )
        self.assertIsInstance(form, c.Request_Elicit)
        self.assertIsInstance(form.value, c.ElicitationRequest_Form)
        self.assertEqual(form.value.value.message, "Book")
        self.assertEqual(json.loads(form.value.value.requested_schema)["required"], ["seats"])
        self.assertEqual(
            schema,
            c.Request_Elicit(c.ElicitationRequest_Form(c.FormRequest("Who?", '{"type":"object","properties":{}}'))),
        )
        self.assertEqual(
            url, c.Request_Elicit(c.ElicitationRequest_Url(c.UrlRequest("Sign in", "https://example.com/login")))
        )
        self.assertEqual(listed, c.Request_ListRoots())

        self.assertEqual((summary.text, summary.model, summary.stop_reason), ("short", "m2", None))
        self.assertEqual((booking.action, booking.content), ("accept", Booking(2)))
        self.assertEqual((contact.action, contact.content), ("decline", None))
        self.assertEqual((login.action, login.content), ("accept", None))
        self.assertEqual(found, [client.Root("file:///src", "src")])

    def test_errors_are_returned_under_their_key(self) -> None:
        answers = [
            Err(c.ClientError_Denied("sampling is not granted")),
            Ok(c.Answer_Elicited(c.ElicitationResponse_Accept('{"seats": "two"}'))),
            Err(c.ClientError_Failed("the request key \"a b\" is not ...")),
            Ok(c.Answer_Roots([])),
            Ok(c.Answer_Roots([])),  # not what a sample request gets
        ]
        with installed(Host(answers)):
            replies = client.ask_all(
                [
                    ("summary", client.Request.sample("hi")),
                    ("booking", client.Request.elicit("Book", Booking)),
                    ("a b", client.Request.list_roots()),
                    ("roots", client.Request.list_roots()),
                    ("odd", client.Request.sample("hi")),
                ]
            )
        denied, unfit, bad_key, roots, odd = replies
        for reply in (denied, unfit, bad_key, odd):
            self.assertIsInstance(reply, ClientError)
        self.assertEqual(
            (denied.kind, denied.message, denied.request),
            ("denied", "sampling is not granted", "summary"),
        )
        self.assertEqual((unfit.kind, unfit.request), ("failed", "booking"))
        self.assertIn("does not fit the form: `seats`: expected an integer", unfit.message)
        self.assertEqual((bad_key.kind, bad_key.request), ("failed", "a b"))
        self.assertEqual(roots, [])
        self.assertEqual((odd.kind, odd.request), ("failed", "odd"))

    def test_a_returned_error_raised_in_a_tool(self) -> None:
        reg = Registry()

        @tool(description="Asks the model twice", requires=["sampling"], registry=reg)
        def twice() -> str:
            texts = []
            for reply in client.ask_all([("a", client.Request.sample("a")), ("b", client.Request.sample("b"))]):
                if isinstance(reply, ClientError):
                    raise reply
                texts.append(reply.text)
            return " ".join(texts)

        answers = [Ok(c.Answer_Sampled(answer("A"))), Err(c.ClientError_LimitExceeded("max_client_requests = 1"))]
        with installed(Host(answers)), self.assertRaises(ToolError) as caught:
            reg.call_tool("twice", "{}")
        self.assertEqual(caught.exception.message, "b: limit_exceeded: max_client_requests = 1")

    def test_outside_a_component(self) -> None:
        replies = client.ask_all([("a", client.Request.list_roots()), ("b", client.Request.sample("hi"))])
        self.assertEqual(
            [(r.kind, r.request) for r in replies], [("unsupported", "a"), ("unsupported", "b")]
        )
        self.assertEqual(client.ask_all([]), [])

    def test_an_empty_batch(self) -> None:
        with installed(Host([])) as host:
            self.assertEqual(client.ask_all(iter([])), [])
        self.assertEqual(host.requests, [("ask", ([],))])

    def test_bad_pairs_ask_nothing(self) -> None:
        roots = client.Request.list_roots()
        with installed() as host:
            for item in [("a", "sample"), (1, roots), roots, ("a", roots, "x"), ["a", roots]]:
                with self.subTest(item=item), self.assertRaisesRegex(TypeError, r"\(key, Request\) pair"):
                    client.ask_all([("ok", roots), item])
        self.assertEqual(host.requests, [])

    def test_constructors_check_their_arguments(self) -> None:
        cases = [
            (ValueError, lambda: client.Request.sample([])),
            (ValueError, lambda: client.Request.sample("x", max_tokens=0)),
            (ValueError, lambda: client.Request.sample("x", speed_priority=2)),
            (TypeError, lambda: client.Request.sample([3])),
            (ValueError, lambda: client.Request.elicit("?", {"type": "string"})),
            (TypeError, lambda: client.Request.elicit("?", int)),
        ]
        for error, make in cases:
            with self.subTest(error=error), self.assertRaises(error):
                make()
        self.assertEqual(client.Request.list_roots(), client.Request("list_roots"))
        self.assertEqual(
            client.Request.elicit_url("Pay", "https://example.com/pay"),
            client.Request("elicit_url", ("Pay", "https://example.com/pay")),
        )


if __name__ == "__main__":
    unittest.main()
