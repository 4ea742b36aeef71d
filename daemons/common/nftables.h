// nftables through netlink, for the daemons that own a table (the kubelet's masquerade, the proxy's Services):
// libnftnl builds the messages, libmnl carries them, and a Transaction commits as one atomic batch.
#pragma once

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

// The registers expressions load into and compare from: the four 16-byte registers nft uses for plain matches.
enum class Register : uint32_t { R1 = 1, R2 = 2, R3 = 3, R4 = 4 };
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

  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  // "add rule ip kctl-kubelet postrouting", one per operation (what error messages name).
  std::vector<std::string> operations() const;

  struct Message {
    std::string operation;
    std::vector<char> bytes;  // one netlink message; its sequence number is set at commit
  };
  const std::vector<Message>& messages() const { return messages_; }

 private:
  std::vector<Message> messages_;
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
};
using WriterPtr = std::unique_ptr<Writer>;

// The kernel's nftables over a NETLINK_NETFILTER socket (one per commit), in the caller's network namespace.
WriterPtr make_netlink_writer();

}  // namespace kctl::nft
