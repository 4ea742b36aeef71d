// The builtin schema parses and resolves every type it names.
#include "api/schema.h"

#include <gtest/gtest.h>

using kctl::api::Schema;

TEST(Schema, BuiltinParses) {
  const Schema& s = Schema::builtin();
  ASSERT_NE(s.type("ObjectMeta"), nullptr);
}

TEST(Schema, ParsesFieldsAndAttributes) {
  auto s = Schema::parse({{"t.schema", "type A\n| An A.\n  items []B merge=name strategy=merge required -- The items.\n"
                                       "  labels map[string]\n"
                                       "type B\n  name string required\n"}});
  const auto* a = s->type("A");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->description, "An A.");
  const auto* items = a->field("items");
  ASSERT_NE(items, nullptr);
  EXPECT_TRUE(items->required);
  EXPECT_TRUE(items->merges_by_key());
  EXPECT_EQ(items->merge_key, "name");
  EXPECT_EQ(items->type.struct_type(), s->type("B"));
  EXPECT_EQ(items->description, "The items.");
  EXPECT_EQ(a->field("labels")->type.to_string(), "map[string]");
}

TEST(Schema, RejectsUnknownType) {
  EXPECT_THROW(Schema::parse({{"t.schema", "type A\n  x Nope\n"}}), std::runtime_error);
}
