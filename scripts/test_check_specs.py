#!/usr/bin/env python3
"""Tests of scripts/check_specs.py: it passes on the specs as they are, and
fails when a spec loses a documented item or gains an item without a source.

Run: python3 -m unittest scripts/test_check_specs.py -v   (scripts/test.sh does)
"""
import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_specs  # noqa: E402

ROOT = check_specs.ROOT


class CheckSpecs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="check-specs-")
        self.specs = os.path.join(self.tmp, "specs")
        shutil.copytree(os.path.join(ROOT, "specs"), self.specs)
        self.report = os.path.join(self.specs, "SOURCES.md")
        self.record = os.path.join(self.tmp, "source-lines.txt")
        shutil.copy(check_specs.SOURCE_LINES, self.record)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_check(self, *extra, env=None):
        out = io.StringIO()
        saved = dict(os.environ)
        os.environ.update(env or {})
        try:
            with contextlib.redirect_stdout(out):
                code = check_specs.main(["--specs", self.specs, "--record", self.record,
                                         "--report", self.report, *extra])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return code, out.getvalue()

    def edit(self, fname, change):
        path = os.path.join(self.specs, fname)
        with open(path) as f:
            doc = yaml.safe_load(f)
        change(doc)
        with open(path, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)

    def schemas(self, doc):
        return doc["components"]["schemas"]

    def assert_fails_with(self, text, *extra, env=None):
        code, out = self.run_check(*extra, env=env)
        self.assertEqual(code, 1, out)
        self.assertIn(text, out)

    def test_the_specs_pass(self):
        code, out = self.run_check()
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\n\d+ passed, 0 failed\n$")

    def test_the_specs_pass_from_the_record_alone(self):
        code, out = self.run_check(env={"TRADECLOUD_REFERENCE": os.path.join(self.tmp, "none"),
                                        "TRADECLOUD_MIRRORS": os.path.join(self.tmp, "none")})
        self.assertEqual(code, 0, out)
        self.assertIn("using", out)

    def test_a_property_without_source_fails(self):
        def add(doc):
            self.schemas(doc)["BuyerOrder"]["properties"]["inventedField"] = {
                "type": "string", "description": "Nobody documents this."}
        self.edit("common.yaml", add)
        self.assert_fails_with("property common.yaml BuyerOrder.inventedField: no x-source")

    def test_a_property_without_source_fails_from_the_record_alone(self):
        def add(doc):
            self.schemas(doc)["BuyerOrder"]["properties"]["inventedField"] = {
                "type": "string", "description": "Nobody documents this."}
        self.edit("common.yaml", add)
        self.assert_fails_with("BuyerOrder.inventedField: no x-source",
                               env={"TRADECLOUD_REFERENCE": os.path.join(self.tmp, "none"),
                                    "TRADECLOUD_MIRRORS": os.path.join(self.tmp, "none")})

    def test_a_source_that_does_not_name_the_item_fails(self):
        # A recorded source (about Bearer tokens): checked against the
        # original page where it is available and against the record where
        # it is not, and both must fail.
        def cite_wrong_line(doc):
            prop = self.schemas(doc)["BuyerOrder"]["properties"]["purchaseOrderNumber"]
            prop["x-source"] = "security/authentication.md#L114"
        self.edit("common.yaml", cite_wrong_line)
        expected = "BuyerOrder.purchaseOrderNumber: `security/authentication.md#L114` does not mention"
        self.assert_fails_with(expected)
        self.assert_fails_with(expected + " 'purchaseOrderNumber' (as recorded)",
                               env={"TRADECLOUD_REFERENCE": os.path.join(self.tmp, "none"),
                                    "TRADECLOUD_MIRRORS": os.path.join(self.tmp, "none")})

    def test_a_source_line_that_does_not_exist_fails(self):
        def cite_missing_line(doc):
            prop = self.schemas(doc)["BuyerOrder"]["properties"]["purchaseOrderNumber"]
            prop["x-source"] = "order/buyer/issue/README.md#L99999"
        self.edit("common.yaml", cite_missing_line)
        self.assert_fails_with("order/buyer/issue/README.md#L99999")

    def test_a_general_rule_is_a_source_only_of_a_member_with_that_rule(self):
        # api/rules.md states the limit of 100 objects once for every collection: it is a
        # source of an array with that `maxItems`, not of one without (nor of a string).
        def cite_the_rule(doc):
            members = self.schemas(doc)["OrderByBuyer"]["properties"]
            members["properties"]["x-source"] = "api/rules.md#L96-L98"
            members["notes"]["x-source"] = "api/rules.md#L96-L98"
        self.edit("api-connector.yaml", cite_the_rule)
        code, out = self.run_check()
        self.assertIn("OrderByBuyer.notes: `api/rules.md#L96-L98` does not mention 'notes'", out)
        self.assertNotIn("OrderByBuyer.properties: `api/rules.md#L96-L98`", out)

    def test_a_removed_documented_field_fails(self):
        def remove(doc):
            del self.schemas(doc)["BuyerOrder"]["properties"]["purchaseOrderNumber"]
        self.edit("common.yaml", remove)
        self.assert_fails_with("no property 'purchaseOrderNumber' under buyerOrder")

    def test_a_removed_enum_value_fails(self):
        def remove(doc):
            self.schemas(doc)["OrderEventName"]["x-extensible-enum"].remove("OrderSynced")
        self.edit("common.yaml", remove)
        self.assert_fails_with("eventName enum OrderSynced: enum value missing")

    def test_an_enum_value_without_source_fails(self):
        def add(doc):
            self.schemas(doc)["OrderEventName"]["x-extensible-enum"].append("OrderInventedByUs")
        self.edit("common.yaml", add)
        self.assert_fails_with("enum value common.yaml OrderEventName=OrderInventedByUs: no x-source")

    def test_basic_auth_where_tradecloud_refuses_it_fails(self):
        def offer_basic(doc):
            op = doc["paths"]["/order/{orderId}"]["get"]
            op["security"].append({"basicAuth": []})
            op["x-security-sources"]["basicAuth"] = "security/authentication.md#L9"
            doc["components"]["securitySchemes"]["basicAuth"] = {
                "type": "http", "scheme": "basic", "description": "Basic.",
                "x-source": "security/authentication.md#L9"}
        self.edit("order.yaml", offer_basic)
        self.assert_fails_with("no-security getOrderByIdRoute basicAuth: basicAuth offered")

    def test_an_undocumented_status_without_reason_fails(self):
        def add(doc):
            doc["paths"]["/order/{orderId}"]["get"]["responses"]["418"] = {"description": "I'm a teapot."}
        self.edit("order.yaml", add)
        self.assert_fails_with("response order.yaml GET /order/{orderId} 418: no x-source")

    def test_an_optional_webhook_member_without_nullable_fails(self):
        def strict(doc):
            del self.schemas(doc)["MessageMeta"]["properties"]["createdDateTime"]["nullable"]
        self.edit("common.yaml", strict)
        self.assert_fails_with("common.yaml MessageMeta.createdDateTime: optional member of a webhook body "
                               "without `nullable: true`")

    def test_a_nullable_ref_member_reads_as_its_ref(self):
        # The documented-fields check sees through `allOf: [{$ref}]`: a
        # wrapper around the wrong schema is a wrong type.
        def wrong(doc):
            self.schemas(doc)["MessageMeta"]["properties"]["source"]["allOf"] = [
                {"$ref": "#/components/schemas/MonetaryAmount"}]
        self.edit("common.yaml", wrong)
        self.assert_fails_with("meta.source.traceId")

    def test_nullable_where_null_is_refused_fails(self):
        def arrays(doc):
            self.schemas(doc)["OrderEvent"]["properties"]["lines"]["nullable"] = True
        self.edit("common.yaml", arrays)
        self.assert_fails_with("common.yaml OrderEvent.lines: `nullable` on an array (null is refused)")

    def test_nullable_outside_webhook_bodies_fails(self):
        def poll(doc):
            self.schemas(doc)["OrderPollRequest"]["properties"]["offset"]["nullable"] = True
        self.edit("order-search.yaml", poll)
        self.assert_fails_with("order-search.yaml OrderPollRequest.offset: `nullable` on a member outside the webhook bodies")

    def test_allof_beyond_one_nullable_ref_fails(self):
        def two(doc):
            member = self.schemas(doc)["MessageMeta"]["properties"]["source"]
            member["allOf"].append({"$ref": "#/components/schemas/MonetaryAmount"})
        self.edit("common.yaml", two)
        self.assert_fails_with("common.yaml MessageMeta.source: allOf is only read as")

    def test_a_date_time_without_the_shared_pattern_fails(self):
        def drop(doc):
            del self.schemas(doc)["MessageMeta"]["properties"]["createdDateTime"]["pattern"]
        self.edit("common.yaml", drop)
        self.assert_fails_with("common.yaml MessageMeta.createdDateTime: a `iso-date-time` string needs `pattern:")

    def test_a_date_time_pattern_that_differs_fails(self):
        def loosen(doc):
            self.schemas(doc)["MessageMeta"]["properties"]["createdDateTime"]["pattern"] = "^.*$"
        self.edit("common.yaml", loosen)
        self.assert_fails_with("common.yaml MessageMeta.createdDateTime: a `iso-date-time` string needs")

    def test_a_pattern_in_a_webhook_body_fails(self):
        def constrain(doc):
            self.schemas(doc)["BuyerOrder"]["properties"]["purchaseOrderNumber"]["pattern"] = r"^\S+$"
        self.edit("common.yaml", constrain)
        self.assert_fails_with("common.yaml BuyerOrder.purchaseOrderNumber: `pattern` in a webhook body")

    def test_a_min_length_in_a_webhook_body_fails(self):
        def constrain(doc):
            self.schemas(doc)["Item"]["properties"]["number"]["minLength"] = 1
        self.edit("common.yaml", constrain)
        self.assert_fails_with("common.yaml Item.number: `minLength` in a webhook body")

    def test_a_request_rule_in_a_webhook_body_passes(self):
        # The same rule as `x-request-rules` is allowed (it is not checked in what is received).
        code, out = self.run_check()
        self.assertEqual(code, 0, out)
        with open(os.path.join(self.specs, "common.yaml")) as f:
            item = self.schemas(yaml.safe_load(f))["Item"]
        self.assertIn("pattern", item["properties"]["number"]["x-request-rules"])

    def test_a_request_rule_naming_no_member_fails(self):
        def misspell(doc):
            self.schemas(doc)["ItemDetails"]["x-request-rules"]["dependentRequired"] = {
                "netWeight": ["netWeightUnit"]}
        self.edit("common.yaml", misspell)
        self.assert_fails_with("common.yaml ItemDetails x-request-rules: `netWeightUnit` is not a member of ItemDetails")

    def test_a_request_rule_of_the_wrong_kind_fails(self):
        def wrong(doc):
            self.schemas(doc)["Item"]["properties"]["number"]["x-request-rules"]["minItems"] = 1
        self.edit("common.yaml", wrong)
        self.assert_fails_with("common.yaml Item.number x-request-rules: `minItems` on a member that is not an array")

    def test_a_request_rule_without_source_fails(self):
        def unsourced(doc):
            del self.schemas(doc)["Price"]["x-request-rules"]["x-source"]
        self.edit("common.yaml", unsourced)
        self.assert_fails_with("request rule common.yaml Price x-request-rules: no x-source")

    def test_a_removed_request_rule_fails(self):
        self.edit("common.yaml", lambda doc: self.schemas(doc)["ItemDetails"].pop("x-request-rules"))
        self.assert_fails_with("request-required-with SendOrderByBuyer lines.itemDetails.netWeightUnitOfMeasureIso "
                               "netWeight: not in x-request-rules dependentRequired of netWeight")

    def test_a_removed_unique_rule_fails(self):
        def drop(doc):
            del self.schemas(doc)["SendDespatchAdviceBySupplier"]["properties"]["lines"]["x-request-rules"]
        self.edit("api-connector.yaml", drop)
        self.assert_fails_with("request-unique SendDespatchAdviceBySupplier lines despatchAdviceLinePosition: "
                               "x-request-rules uniqueBy is None")

    def unique_by(self, member):
        def rename(doc):
            lines = self.schemas(doc)["SendDespatchAdviceBySupplier"]["properties"]["lines"]
            lines["x-request-rules"]["uniqueBy"] = member
        self.edit("api-connector.yaml", rename)

    def test_a_unique_rule_naming_no_member_of_the_items_fails(self):
        self.unique_by("position")
        self.assert_fails_with("api-connector.yaml SendDespatchAdviceBySupplier.lines x-request-rules: "
                               "`uniqueBy: position` is not a text member of the list's items")

    def test_a_unique_rule_naming_a_number_fails(self):
        self.unique_by("despatchQuantity")
        self.assert_fails_with("api-connector.yaml SendDespatchAdviceBySupplier.lines x-request-rules: "
                               "`uniqueBy: despatchQuantity` is not a text member of the list's items")

    def test_a_unique_rule_on_a_text_member_fails(self):
        def on_text(doc):
            number = self.schemas(doc)["DespatchAdviceHeader"]["properties"]["despatchAdviceNumber"]
            number["x-request-rules"] = {"uniqueBy": "x", "x-source": "api/rules.md#L32-L44"}
        self.edit("api-connector.yaml", on_text)
        self.assert_fails_with("api-connector.yaml DespatchAdviceHeader.despatchAdviceNumber x-request-rules: "
                               "`uniqueBy` on a member that is not an array")

    def test_a_unique_rule_cited_by_lines_that_do_not_state_it_fails(self):
        def miscite(doc):
            lines = self.schemas(doc)["SendDespatchAdviceBySupplier"]["properties"]["lines"]
            lines["x-request-rules"]["x-source"] = "api/rules.md#L5"
        self.edit("api-connector.yaml", miscite)
        self.assert_fails_with("api-connector.yaml SendDespatchAdviceBySupplier.lines x-request-rules")

    def test_a_request_pattern_that_lets_whitespace_through_fails(self):
        def loosen(doc):
            self.schemas(doc)["Item"]["properties"]["number"]["x-request-rules"]["pattern"] = ".*"
        self.edit("common.yaml", loosen)
        self.assert_fails_with("request-no-whitespace SendOrderByBuyer lines.item.number: pattern '.*'")

    def test_a_sent_local_date_time_without_its_request_pattern_fails(self):
        def drop(doc):
            del self.schemas(doc)["SendOrderDeliveryHistoryByBuyer"]["properties"]["erpLastChangeDateTime"][
                "x-request-rules"]
        self.edit("api-connector.yaml", drop)
        self.assert_fails_with("api-connector.yaml SendOrderDeliveryHistoryByBuyer.erpLastChangeDateTime: a "
                               "`local-date-time` member of a request needs `x-request-rules` `pattern:")

    def test_a_sent_date_without_its_request_pattern_fails(self):
        # backorderDate's page gives no format: api/standards.md#L49-L50 does.
        def drop(doc):
            del self.schemas(doc)["DespatchAdviceLine"]["properties"]["backorderDate"]["x-request-rules"]
        self.edit("api-connector.yaml", drop)
        self.assert_fails_with("api-connector.yaml DespatchAdviceLine.backorderDate: a `date` member of a "
                               "request needs `x-request-rules` `pattern:")

    def test_a_sent_date_of_the_order_api_without_its_request_pattern_fails(self):
        def drop(doc):
            del self.schemas(doc)["DeliveryScheduleLogistics"]["properties"]["eta"]["x-request-rules"]
        self.edit("order.yaml", drop)
        self.assert_fails_with("order.yaml DeliveryScheduleLogistics.eta: a `date` member of a request needs")

    def test_a_sent_date_of_an_inline_schema_without_its_request_pattern_fails(self):
        # An inline object member of a component, and a request body's own inline schema:
        # no component holds those dates, body_schemas reaches them.
        def inline(doc):
            logistics = self.schemas(doc)["DeliveryScheduleLogistics"]["properties"]
            logistics["window"] = {"type": "object", "description": "A delivery window.",
                                   "properties": {"opens": {"type": "string", "format": "date",
                                                            "description": "The first day."}}}
            body = doc["paths"]["/order/{orderId}/line/{position}/deliverySchedule"]["post"]["requestBody"]
            body["content"]["application/json"]["schema"] = {
                "type": "object", "description": "The update, with the day it was promised.",
                "properties": {
                    "update": {"$ref": "#/components/schemas/UpdateOrderLineDeliverySchedule"},
                    "promisedOn": {"type": "string", "format": "date", "description": "The day.",
                                   "x-request-rules": {"pattern": check_specs.DATE_REQUEST_PATTERN}},
                    "lines": {"type": "array", "description": "Per line.", "items": {
                        "type": "object", "description": "A line.", "properties": {
                            "sentAt": {"type": "string", "format": "local-date-time",
                                       "description": "When."}}}}}}
        self.edit("order.yaml", inline)
        code, out = self.run_check()
        self.assertEqual(code, 1, out)
        self.assertIn("order.yaml DeliveryScheduleLogistics.window.opens: a `date` member of a request "
                      "needs `x-request-rules` `pattern:", out)
        self.assertIn("order.yaml POST /order/{orderId}/line/{position}/deliverySchedule requestBody.lines[]"
                      ".sentAt: a `local-date-time` member of a request needs", out)
        # The inline member with its pattern passes.
        self.assertNotIn("requestBody.promisedOn: a `date` member", out)

    def test_a_sent_zoned_date_time_needs_no_request_pattern(self):
        # The poll filter is documented and exemplified with its zone (api/polling/README.md).
        with open(os.path.join(self.specs, "order-search.yaml")) as f:
            filters = self.schemas(yaml.safe_load(f))["OrderPollFilters"]
        self.assertEqual(filters["properties"]["lastUpdatedAfter"]["format"], "date-time")
        self.assertNotIn("x-request-rules", filters["properties"]["lastUpdatedAfter"])
        code, out = self.run_check()
        self.assertEqual(code, 0, out)

    def test_a_member_with_a_request_rule_whose_description_does_not_say_it_fails(self):
        def hush(doc):
            currency = self.schemas(doc)["MonetaryAmount"]["properties"]["currencyIso"]
            currency["description"] = "The 3-letter currency code according to ISO 4217."
        self.edit("common.yaml", hush)
        self.assert_fails_with("common.yaml MonetaryAmount.currencyIso: a member with a request rule needs "
                               "a sentence \"When sent to Tradecloud: ...\"")

    def test_a_member_a_schema_rule_names_whose_description_does_not_say_it_fails(self):
        def hush(doc):
            self.schemas(doc)["ItemDetails"]["properties"]["netWeight"]["description"] = "Net weight of one item."
        self.edit("common.yaml", hush)
        self.assert_fails_with("common.yaml ItemDetails.netWeight: a member with a request rule needs")

    def test_a_received_local_date_time_needs_no_request_pattern(self):
        # `BuyerOrder` is only received (webhook bodies, GET /order): its date-times are read
        # as Tradecloud sends them and have no request rule.
        with open(os.path.join(self.specs, "common.yaml")) as f:
            order = self.schemas(yaml.safe_load(f))["BuyerOrder"]
        self.assertNotIn("x-request-rules", order["properties"]["erpIssueDateTime"])
        code, out = self.run_check()
        self.assertEqual(code, 0, out)

    def test_a_request_pattern_of_a_date_time_that_allows_a_zone_fails(self):
        def loosen(doc):
            rules = self.schemas(doc)["SendOrderResponseBySupplier"]["properties"]["erpResponseDateTime"][
                "x-request-rules"]
            rules["pattern"] = check_specs.LOCAL_DATE_TIME_REQUEST_PATTERN[:-1] + "Z?$"
        self.edit("api-connector.yaml", loosen)
        self.assert_fails_with("api-connector.yaml SendOrderResponseBySupplier.erpResponseDateTime x-request-rules: "
                               "the request `pattern` of a `local-date-time` member must be")

    def test_a_request_pattern_of_a_date_that_differs_fails(self):
        def loosen(doc):
            self.schemas(doc)["ActualDelivery"]["properties"]["date"]["x-request-rules"]["pattern"] = "^.*$"
        self.edit("common.yaml", loosen)
        self.assert_fails_with("common.yaml ActualDelivery.date x-request-rules: the request `pattern` of a "
                               "`date` member must be")

    def test_the_request_forms_of_dates_are_the_documented_ones(self):
        local = re.compile(check_specs.LOCAL_DATE_TIME_REQUEST_PATTERN)
        for ok in ["2019-12-31T10:11:12", "2000-02-29T23:59:59", "0001-01-01T00:00:00"]:
            self.assertTrue(check_specs.ecma_search(local, ok), ok)
        for bad in ["2019-12-31", "2019-12-31T10:11:12Z", "2019-12-31T10:11:12+02:00",
                    "2019-12-31T10:11:12.345", "2019-12-31 10:11:12", "2019-12-31t10:11:12",
                    "2019-12-31T10:11", "2019-12-31T10:11:60", "2019-12-31T10:11:12\n"]:
            self.assertFalse(check_specs.ecma_search(local, bad), bad)
        date = re.compile(check_specs.DATE_REQUEST_PATTERN)
        self.assertTrue(check_specs.ecma_search(date, "2019-12-31"))
        for bad in ["2019-12-31T10:11:12", "2019-12-31Z", "2019-13-01", "19-12-31", "2019-12-31\n"]:
            self.assertFalse(check_specs.ecma_search(date, bad), bad)

    def test_a_required_identifier_that_may_be_empty_fails(self):
        def loosen(doc):
            del self.schemas(doc)["DespatchAdviceLocation"]["properties"]["id"]["minLength"]
        self.edit("api-connector.yaml", loosen)
        self.assert_fails_with("not-empty SendDespatchAdviceBySupplier header.shipment.departure.location.id: "
                               "minLength is None")

    def test_a_pattern_description_without_its_pattern_fails(self):
        def misplace(doc):
            self.schemas(doc)["MonetaryAmount"]["properties"]["value"]["x-pattern-description"] = "a number"
        self.edit("common.yaml", misplace)
        self.assert_fails_with("common.yaml MonetaryAmount.value: `x-pattern-description` without the `pattern` "
                               "of a plain string beside it")

    def test_a_pattern_description_that_is_no_phrase_fails(self):
        def sentence(doc):
            rules = self.schemas(doc)["MonetaryAmount"]["properties"]["currencyIso"]["x-request-rules"]
            rules["x-pattern-description"] = "Must be three capitals."
        self.edit("common.yaml", sentence)
        self.assert_fails_with("common.yaml MonetaryAmount.currencyIso x-request-rules: `x-pattern-description` "
                               "must be one line of words that follow \"must be\"")

    def test_a_webhook_spec_without_its_marker_fails(self):
        self.edit("order-webhook-connector.yaml", lambda doc: doc.pop("x-webhook"))
        self.assert_fails_with("order-webhook-connector.yaml: a webhook spec needs `x-webhook: true`")

    def test_a_removed_limit_fails(self):
        def unlimited(doc):
            del self.schemas(doc)["SendOrderByBuyer"]["properties"]["lines"]["maxItems"]
        self.edit("api-connector.yaml", unlimited)
        self.assert_fails_with("max-items SendOrderByBuyer lines 500: maxItems is None")

    def test_a_pattern_that_lets_whitespace_through_fails(self):
        def loosen(doc):
            self.schemas(doc)["OrderByBuyer"]["properties"]["purchaseOrderNumber"]["pattern"] = "^.+$"
        self.edit("api-connector.yaml", loosen)
        self.assert_fails_with("no-whitespace SendOrderByBuyer order.purchaseOrderNumber: pattern '^.+$' does "
                               "not refuse whitespace")

    def test_a_pattern_that_lets_a_next_line_or_a_byte_order_mark_through_fails(self):
        # U+0085 is whitespace to str::trim, U+FEFF to ECMA's `\s`: an identifier has neither.
        for allowed, shown in (("\u0085", "\\u0085"), ("\ufeff", "\\ufeff")):
            def loosen(doc):
                self.schemas(doc)["OrderByBuyer"]["properties"]["purchaseOrderNumber"]["pattern"] = (
                    check_specs.NO_WHITESPACE_PATTERNS[0].replace(shown, ""))
            self.edit("api-connector.yaml", loosen)
            self.assert_fails_with("no-whitespace SendOrderByBuyer order.purchaseOrderNumber: pattern")

    def test_a_pattern_with_a_space_escape_fails(self):
        # `\s` is another set in ECMA (U+FEFF, not U+0085), Python and str::trim.
        def escape(doc):
            self.schemas(doc)["Item"]["properties"]["number"]["x-request-rules"]["pattern"] = r"^\S*$"
        self.edit("common.yaml", escape)
        self.assert_fails_with("common.yaml Item.number x-request-rules: `pattern` uses \\s or \\S")

    def test_a_trailing_newline_is_whitespace_as_in_ecma_regexes(self):
        # Python's `$` also matches before a final newline; JSON Schema's does not.
        self.assertFalse(check_specs.ecma_search(check_specs.re.compile(r"^\S+$"), "PO1\n"))
        self.assertTrue(check_specs.ecma_search(check_specs.re.compile(r"^\S+$"), "PO1"))

    def test_a_member_no_longer_required_fails(self):
        def optional(doc):
            self.schemas(doc)["OrderByBuyer"]["required"].remove("purchaseOrderNumber")
        self.edit("api-connector.yaml", optional)
        self.assert_fails_with("required SendOrderByBuyer order.purchaseOrderNumber: not required")

    def test_a_removed_txml_media_type_fails(self):
        def json_only(doc):
            del doc["paths"]["/api-connector/order"]["post"]["requestBody"]["content"]["application/xml"]
        self.edit("api-connector.yaml", json_only)
        self.assert_fails_with("media sendOrderByBuyerRoute application/xml: request media type missing")

    def test_keep_empty_on_a_required_member_fails(self):
        def keep(doc):
            self.schemas(doc)["OrderDeliveryHistoryLineByBuyer"]["properties"]["deliveryHistory"]["x-keep-empty"] = True
        self.edit("api-connector.yaml", keep)
        self.assert_fails_with("OrderDeliveryHistoryLineByBuyer.deliveryHistory: `x-keep-empty` on a required member")

    def test_a_stale_report_fails(self):
        with open(self.report, "a") as f:
            f.write("edited by hand\n")
        self.assert_fails_with("SOURCES.md is stale")


class ResponseTexts(unittest.TestCase):
    def test_the_delivery_schedule_400_says_what_is_wrong_there(self):
        # Its 400 was copied from approve/reject ("no open request"): the
        # update of a line's delivery schedule answers no request.
        with open(os.path.join(ROOT, "specs", "order.yaml"), encoding="utf-8") as f:
            spec = yaml.safe_load(f)
        operation = spec["paths"]["/order/{orderId}/line/{position}/deliverySchedule"]["post"]
        text = operation["responses"]["400"]["description"]
        self.assertNotIn("open request", text)
        for said in ("deliverySchedule", "position", "etd", "YYYY-MM-DD"):
            self.assertIn(said, text)


if __name__ == "__main__":
    unittest.main()
