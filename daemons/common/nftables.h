// nftables through netlink, for the daemons that own a table (the kubelet's masquerade, the proxy's Services):
// libnftnl builds the messages, libmnl carries them, and a Transaction commits as one atomic batch.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct nftnl_rule;

namespace kctl::nft {

// Address families of tables (NFPROTO_*), printed as nft names them ("ip", "inet", ...).
enum class Family : uint8_t { Inet = 1, Ipv4 = 2, Arp = 3, Netdev = 5, Bridge = 7, Ipv6 = 10 };
std::string_view family_name(Family family);

// Netfilter hooks of base chains (NF_INET_*).
enum class Hook : uint32_t { Prerouting = 0, Input = 1, Forward = 2, Output = 3, Postrouting = 4 };

// The standard priorities nft knows by name (NF_IP_PRI_*).
namespace priority {
constexpr int32_t kRaw = -300;
constexpr int32_t kMangle = -150;
constexpr int32_t kDstNat = -100;
constexpr int32_t kFilter = 0;
constexpr int32_t kSecurity = 50;
constexpr int32_t kSrcNat = 100;
}  // namespace priority

// What makes a chain a base chain: attached to a hook, of a type ("filter", "nat", "route").
struct BaseChain {
  std::string type;
  Hook hook;
  int32_t priority;
  bool policy_accept = true;  // false: policy drop
};

struct Chain {
  Family family;
  std::string table, name;
  std::optional<BaseChain> base;  // none: a regular chain, reached by jump/goto
};

// An IPv4 prefix such as 10.244.0.0/16 (the address is in host byte order, with its host bits cleared).
struct Ipv4Prefix {
  uint32_t address = 0;
  int length = 32;
  static std::optional<Ipv4Prefix> parse(std::string_view cidr);  // nullopt when not a.b.c.d/n (or a.b.c.d)
  std::string to_string() const;
  bool contains(const Ipv4Prefix& other) const;
  bool operator==(const Ipv4Prefix&) const = default;
};

// The registers expressions load into and compare from: the four 16-byte registers nft uses for plain matches, and
// the 32-bit ones nft packs concatenations into (`ip daddr . meta l4proto . th dport`: the address in R1, which is
// also 32-bit register 8, the protocol in 9, the port in 10; nft prints them by those numbers).
enum class Register : uint32_t { Verdict = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4 };
constexpr Register reg32(unsigned index) { return Register(8 + index); }  // reg32(0) is R1's first word
enum class PayloadBase : uint32_t { LinkLayer = 0, Network = 1, Transport = 2 };
enum class CmpOp : uint32_t { Eq = 0, Neq = 1, Lt = 2, Lte = 3, Gt = 4, Gte = 5 };
enum class Verdict : int32_t { Drop = 0, Accept = 1, Continue = -1, Return = -5, Jump = -3, Goto = -4 };

// A rule: its expressions in the order the kernel evaluates them. The match helpers emit exactly what nft emits, so
// `nft list` prints the rule back in nft's own syntax.
class Rule {
 public:
  Rule(Family family, std::string table, std::string chain);
  ~Rule();
  Rule(Rule&&) noexcept;
  Rule& operator=(Rule&&) noexcept;

  Rule& payload(PayloadBase base, uint32_t offset, uint32_t length, Register dreg = Register::R1);
  Rule& meta(uint32_t key, Register dreg = Register::R1);  // key: NFT_META_*
  Rule& bitwise(Register reg, std::vector<uint8_t> mask, std::vector<uint8_t> xor_bits);
  Rule& cmp(Register reg, CmpOp op, std::vector<uint8_t> data);
  Rule& counter();
  Rule& masquerade();
  Rule& verdict(Verdict verdict, const std::string& chain = "");  // chain: for Jump and Goto
  Rule& comment(const std::string& text);

  // `ip saddr 10.244.1.0/24`, `ip daddr != 10.244.0.0/16`.
  Rule& match_ip_saddr(const Ipv4Prefix& prefix, bool negate = false);
  Rule& match_ip_daddr(const Ipv4Prefix& prefix, bool negate = false);

  // The expressions the proxy's rules are made of, each as nft compiles it.
  Rule& ct(uint32_t key, Register dreg = Register::R1);           // key: NFT_CT_*
  Rule& meta_set(uint32_t key, Register sreg = Register::R1);     // `meta mark set ...`
  Rule& immediate(Register dreg, std::vector<uint8_t> data);      // a constant into a register
  Rule& numgen_random(uint32_t modulus, Register dreg = Register::R1);
  // `... @set` (a match; negate: `!= @set`) and `... vmap @map` (the verdict the element holds). The key is read from
  // sreg (its first register; a concatenation continues in the following 32-bit ones).
  Rule& lookup(const std::string& set, Register sreg = Register::R1, bool negate = false);
  Rule& vmap(const std::string& map, Register sreg = Register::R1);
  // `... map @map` in a statement: the value the element holds into dreg (and the 32-bit registers after it).
  Rule& map(const std::string& map, Register sreg, Register dreg);
  // `update @set { <key in sreg> }`: adds the key (or refreshes its timeout) from the packet path.
  Rule& dynset_update(const std::string& set, Register sreg = Register::R1);
  // `dnat to ADDR:PORT` with the address in addr and the port (network order, 2 bytes) in port.
  Rule& dnat(Register addr, Register port);
  Rule& masquerade_fully_random();
  // `reject` (ICMP port unreachable, which a TCP client sees as "connection refused").
  Rule& reject();
  // `reject with tcp reset` (a TCP packet only: put `meta l4proto tcp` before it). Unlike an ICMP error, a reset is
  // not subject to the kernel's per-destination ICMP rate limit (net.ipv4.icmp_ratelimit).
  Rule& reject_tcp_reset();

  // Matches nft writes as one phrase.
  Rule& match_ip_saddr_is(uint32_t address);     // `ip saddr 10.244.1.5` (host byte order)
  Rule& match_l4proto(uint8_t protocol);          // `meta l4proto tcp`
  Rule& match_ct_state_new();                     // `ct state new`
  Rule& match_ct_status_dnat();                   // `ct status dnat`
  Rule& match_fib_daddr_local();                  // `fib daddr type local`
  Rule& match_mark_bits_clear(uint32_t bits);     // `meta mark & BITS == 0`
  Rule& set_mark_or(uint32_t bits);               // `meta mark set meta mark | BITS`
  Rule& set_mark_xor(uint32_t bits);              // `meta mark set meta mark ^ BITS`
  // Loads `ip daddr . meta l4proto . th dport` into R1, reg32(1), reg32(2); `meta l4proto . th dport` into R1,
  // reg32(1); `ip saddr` / `ip daddr` into R1.
  Rule& load_daddr_l4proto_dport();
  Rule& load_l4proto_dport();
  Rule& load_ip_saddr();
  Rule& load_ip_daddr();
  // `ip saddr . ip daddr` into R1, reg32(1).
  Rule& load_ip_saddr_daddr();
  // `dnat to 10.244.1.5:8080` (host byte order address and port).
  Rule& dnat_to(uint32_t address, uint16_t port);

  Family family() const { return family_; }
  const std::string& table() const { return table_; }
  const std::string& chain() const { return chain_; }
  nftnl_rule* native() const { return rule_.get(); }

 private:
  Rule& match_ipv4_prefix(uint32_t offset, const Ipv4Prefix& prefix, bool negate);
  struct Free {
    void operator()(nftnl_rule* r) const;
  };
  std::unique_ptr<nftnl_rule, Free> rule_;
  size_t expressions_ = 0;
  Family family_;
  std::string table_, chain_;
};

// nft's datatypes, as set keys and map values are declared with them (`type ipv4_addr . inet_proto . inet_service`).
enum class DataType : uint32_t { Verdict = 1, Integer = 4, Ipv4Addr = 7, InetProto = 12, InetService = 13, Mark = 19 };

// The expressions a field of a key or value can be declared by (nft's `typeof`): needed where nft's `type` has no
// name for the field (numgen's plain integer), so that nft lists the set as it would declare it and loads its own
// listing back. The modulus nft records for numgen is 1 (any rule's modulus fits it).
enum class Field { IpDaddr, L4Proto, ThDport, TcpDport, NumgenRandom };

// A named set or map. A concatenated key lists its fields in order (each takes a 32-bit register or more).
struct Set {
  Family family = Family::Ipv4;
  std::string table, name;
  std::vector<DataType> key;
  std::optional<DataType> data;  // a map: the type of the values (DataType::Verdict: a verdict map)
  bool dynamic = false;          // updated from the packet path (`update @set { ... }`)
  uint32_t timeout_seconds = 0;  // > 0: elements expire this long after they were last added or updated
  std::string comment;
  // An inline set (`vmap { 0 : goto a, 1 : goto b }`): constant, bound to the next rule that names it, gone with
  // that rule. Its name must be unique in the table ("__map1", ...).
  bool anonymous = false;
  // Instead of key and data: the fields as nft's `typeof` names them (the types follow from them).
  std::vector<Field> key_typeof, data_typeof;
};

// The bytes of a set key, field by field in the set's order, each padded to 32 bits as the registers hold them.
class Key {
 public:
  Key& ipv4(uint32_t address);  // host byte order
  Key& proto(uint8_t protocol);
  Key& port(uint16_t port);     // host byte order
  Key& mark(uint32_t mark);
  Key& number(uint32_t value);  // a plain 32-bit integer (what numgen yields), host byte order
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  bool operator==(const Key&) const = default;
  // Shorter keys first, then bytewise: an order for maps of keys. (Written out: GCC 12 warns, wrongly, about the
  // memcmp bound of a defaulted <=> on vector<uint8_t>.)
  std::strong_ordering operator<=>(const Key& other) const {
    if (bytes_.size() != other.bytes_.size()) return bytes_.size() <=> other.bytes_.size();
    for (size_t i = 0; i < bytes_.size(); ++i)
      if (bytes_[i] != other.bytes_[i]) return bytes_[i] <=> other.bytes_[i];
    return std::strong_ordering::equal;
  }

 private:
  std::vector<uint8_t> bytes_;
};

// An element to add: its key and, in a map, its value (a verdict with its chain, or data).
struct Element {
  Key key;
  Verdict verdict = Verdict::Continue;  // a verdict map's value (Jump and Goto name a chain)
  std::string chain;
  std::vector<uint8_t> data;  // a data map's value
  std::string comment;
};

// Operations to commit together. Each is built into its netlink message when added; nothing reaches the kernel
// before a Writer commits the whole transaction.
class Transaction {
 public:
  // Creates the table, or leaves it as it is when it exists (`nft add table`).
  void add_table(Family family, const std::string& name);
  void delete_table(Family family, const std::string& name);
  // Starts the table over: whatever it held (from an earlier run, or someone's hand) is gone once the transaction
  // commits, and what the transaction adds after this is all it holds. (add, delete, add: deleting a missing table
  // would fail the transaction.)
  void replace_table(Family family, const std::string& name);
  // Creates the chain, or leaves it when it exists with the same hook.
  void add_chain(const Chain& chain);
  void flush_chain(Family family, const std::string& table, const std::string& chain);
  void delete_chain(Family family, const std::string& table, const std::string& chain);
  // Appends the rule to its chain.
  void add_rule(const Rule& rule);
  // Creates the set, or leaves it (and its elements) when it exists with the same declaration.
  void add_set(const Set& set);
  void delete_set(Family family, const std::string& table, const std::string& set);
  // Removes every element of the set.
  void flush_set(Family family, const std::string& table, const std::string& set);
  // Adds elements (several messages when they are many). An element already there with the same value is fine; with
  // another value the kernel refuses the transaction: delete it first.
  void add_elements(Family family, const std::string& table, const std::string& set,
                    const std::vector<Element>& elements);
  // Deletes elements by key; one that is not there fails the transaction.
  void delete_elements(Family family, const std::string& table, const std::string& set, const std::vector<Key>& keys);

  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  size_t bytes() const { return bytes_.size(); }
  // "add rule ip kctl-kubelet postrouting", one per operation (what error messages name).
  std::vector<std::string> operations() const;
  std::string operation(size_t index) const { return messages_.at(index).operation; }

  // The netlink messages back to back, in order; each has sequence number 0 until the writer numbers them.
  const std::vector<char>& wire() const { return bytes_; }
  struct Message {
    size_t offset = 0, length = 0;  // in wire()
    std::string operation;
  };
  const std::vector<Message>& messages() const { return messages_; }

 private:
  template <typename Payload>
  void append(std::string operation, uint16_t type, Family family, uint16_t flags, Payload&& payload);

  std::vector<char> bytes_;
  std::vector<Message> messages_;
};

// What a table holds, by name (read back from the kernel).
struct TableContents {
  bool exists = false;
  std::vector<std::string> chains, sets;
};

// A failed commit: the errno the kernel answered and a message naming the operation it refused, e.g.
// "add rule ip kctl-kubelet postrouting: No such file or directory".
struct Error {
  int code = 0;
  std::string message;
};

// Commits transactions. An interface, so that code computing rules can be tested without a kernel.
class Writer {
 public:
  virtual ~Writer() = default;
  // All operations take effect together, or none does (the kernel aborts the whole batch when one fails).
  // nullopt on success.
  virtual std::optional<Error> commit(const Transaction& transaction) = 0;
  // The names of the chains and sets in a table as the kernel has them now (exists false: no such table); nullopt
  // and `error` when it cannot be read. A writer that cannot read (a test's fake) says so.
  virtual std::optional<TableContents> list_table(Family family, const std::string& table, Error* error);
};
using WriterPtr = std::unique_ptr<Writer>;

// The kernel's nftables over a NETLINK_NETFILTER socket (kept from commit to commit), in the network namespace the
// first commit ran in. Commits of one writer must not run concurrently.
WriterPtr make_netlink_writer();

}  // namespace kctl::nft
