// The nftables transaction writer: libnftnl objects owned by RAII holders and turned into netlink messages as
// operations are added; a commit frames them in one batch (begin ... end), sends it, and reads the kernel's ack for
// every operation so that a refusal names the operation it concerns.
#include "daemons/common/nftables.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

namespace kctl::nft {

namespace {

// Bounds on one rule, so its message always fits the buffer it is built in (libnftnl writes without checking):
// 64 expressions and 64 bytes of data per expression (the longest register concatenation) stay far below it.
constexpr size_t kMaxExpressionsPerRule = 64;
constexpr size_t kMaxExpressionData = 64;
// nft keeps comments to 128 characters; the kernel's user data limit is 256 bytes.
constexpr size_t kMaxCommentLength = 128;
constexpr size_t kMessageBuffer = 64 * 1024;
// The kernel answers a batch while it is being sent; waiting longer than this for the rest means it never will.
constexpr auto kAckTimeout = std::chrono::seconds(5);
// Room for one ack in the receive buffer: the kernel charges each queued ack its socket buffer's true size (about a
// kilobyte), not the few dozen bytes of the message.
constexpr size_t kAckRoom = 1024;
// One read takes up to this much of the queued answer (acks are small; an error names no more than its message).
constexpr size_t kReceiveBuffer = 32 * 1024;

struct TableFree {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct ChainFree {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct ExprFree {
  void operator()(nftnl_expr* e) const { nftnl_expr_free(e); }
};
struct UdataFree {
  void operator()(nftnl_udata_buf* b) const { nftnl_udata_buf_free(b); }
};
struct SocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using TablePtr = std::unique_ptr<nftnl_table, TableFree>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainFree>;
using ExprPtr = std::unique_ptr<nftnl_expr, ExprFree>;
using SocketPtr = std::unique_ptr<mnl_socket, SocketClose>;

template <typename T>
T* checked(T* p) {
  if (!p) throw std::bad_alloc();
  return p;
}

// One message: the header, then whatever `payload` adds to it.
template <typename Payload>
Transaction::Message build(std::string operation, uint16_t type, Family family, uint16_t flags, Payload&& payload) {
  std::vector<char> buf(kMessageBuffer);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), type, uint16_t(family), flags, 0);
  payload(nlh);
  buf.resize(nlh->nlmsg_len);
  return {std::move(operation), std::move(buf)};
}

TablePtr make_table(Family family, const std::string& name) {
  TablePtr t(checked(nftnl_table_alloc()));
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, uint32_t(family));
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
  return t;
}

ChainPtr make_chain(Family family, const std::string& table, const std::string& name) {
  ChainPtr c(checked(nftnl_chain_alloc()));
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, uint32_t(family));
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
  return c;
}

std::string describe(const char* verb, const char* object, Family family, const std::string& table,
                     const std::string& chain = "") {
  std::string s = std::string(verb) + " " + object + " " + std::string(family_name(family)) + " " + table;
  if (!chain.empty()) s += " " + chain;
  return s;
}

std::vector<uint8_t> be32(uint32_t v) {
  uint32_t n = htonl(v);
  const auto* p = reinterpret_cast<const uint8_t*>(&n);
  return {p, p + 4};
}

// Appends one message to the batch with the given sequence number.
void append(std::vector<char>& batch, const char* msg, size_t len, uint32_t seq, bool ack) {
  size_t at = batch.size();
  batch.insert(batch.end(), msg, msg + len);
  auto* nlh = reinterpret_cast<nlmsghdr*>(batch.data() + at);
  nlh->nlmsg_seq = seq;
  if (ack) nlh->nlmsg_flags |= NLM_F_ACK;
}

// The extended ack's message, when the kernel gave one (NETLINK_EXT_ACK).
std::string ext_ack_message(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  unsigned offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += mnl_nlmsg_get_payload_len(&err->msg);
  std::string msg;
  mnl_attr_parse(
      nlh, offset,
      [](const nlattr* attr, void* data) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
          *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
        return MNL_CB_OK;
      },
      &msg);
  return msg;
}

// Grows a socket buffer to `bytes` (never shrinks it below the system's default).
void grow_buffer(int fd, int force_option, int option, size_t bytes) {
  int current = 0;
  socklen_t len = sizeof current;
  // The kernel reports twice what was set (its bookkeeping overhead); compare with what we would set.
  if (getsockopt(fd, SOL_SOCKET, option, &current, &len) == 0 && size_t(current) / 2 >= bytes) return;
  int size = int(std::min<size_t>(bytes, size_t(1) << 30));
  if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
}

class NetlinkWriter : public Writer {
 public:
  std::optional<Error> commit(const Transaction& tx) override;
};

std::optional<Error> NetlinkWriter::commit(const Transaction& tx) {
  if (tx.empty()) return std::nullopt;
  auto fail = [](const std::string& what) { return Error{errno, what + ": " + std::strerror(errno)}; };
  SocketPtr sock(mnl_socket_open(NETLINK_NETFILTER));
  if (!sock) return fail("open a netfilter netlink socket");
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail("bind the netfilter netlink socket");
  int one = 1;
  // Errors without a copy of the refused message, but with the kernel's explanation when it has one.
  mnl_socket_setsockopt(sock.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(sock.get(), NETLINK_EXT_ACK, &one, sizeof one);
  uint32_t portid = mnl_socket_get_portid(sock.get());

  // begin, the operations (each acked, so that every one is accounted for), end.
  const auto& messages = tx.messages();
  const uint32_t begin_seq = 1, end_seq = uint32_t(messages.size()) + 2;
  std::vector<char> batch;
  char frame[256];
  nlmsghdr* nlh = nftnl_batch_begin(frame, begin_seq);
  append(batch, frame, nlh->nlmsg_len, begin_seq, false);
  for (size_t i = 0; i < messages.size(); ++i)
    append(batch, messages[i].bytes.data(), messages[i].bytes.size(), uint32_t(i) + 2, true);
  nlh = nftnl_batch_end(frame, end_seq);
  append(batch, frame, nlh->nlmsg_len, end_seq, false);

  // The kernel takes the batch in one message and queues every ack before the send returns: both buffers must hold
  // all of it.
  int fd = mnl_socket_get_fd(sock.get());
  grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, batch.size() + 4096);
  grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, (messages.size() + 2) * kAckRoom);
  if (mnl_socket_sendto(sock.get(), batch.data(), batch.size()) < 0) return fail("send the nftables batch");

  auto operation = [&](uint32_t seq) -> std::string {
    if (seq >= 2 && seq - 2 < messages.size()) return messages[seq - 2].operation;
    return "nftables transaction";
  };
  std::optional<Error> first;
  size_t acked = 0;
  std::vector<char> buf(kReceiveBuffer);
  auto deadline = std::chrono::steady_clock::now() + kAckTimeout;
  while (acked < messages.size()) {
    // After an error, the rest of the answer is already queued: take what is there, wait for nothing more.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, first ? 0 : int(std::max<int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (first) break;
      return Error{ETIMEDOUT, "nftables transaction: the kernel acknowledged " + std::to_string(acked) + " of " +
                                  std::to_string(messages.size()) + " operations"};
    }
    ssize_t len = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (len < 0) {
      if (errno == EINTR) continue;
      return fail("read the kernel's answer to the nftables transaction");
    }
    int left_bytes = int(len);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, left_bytes);
         m = mnl_nlmsg_next(m, &left_bytes)) {
      if (m->nlmsg_pid != portid || m->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
      if (err->error != 0 && !first) {
        std::string text = operation(m->nlmsg_seq) + ": " + std::strerror(-err->error);
        if (std::string extra = ext_ack_message(m); !extra.empty()) text += " (" + extra + ")";
        first = Error{-err->error, text};
      }
      if (m->nlmsg_seq == begin_seq || m->nlmsg_seq == end_seq) {
        // The batch itself was refused (no permission, no nftables): no operation will be answered.
        if (!first) first = Error{EPROTO, "nftables transaction: refused as a whole"};
        return first;
      }
      ++acked;
    }
  }
  return first;
}

}  // namespace

std::string_view family_name(Family family) {
  switch (family) {
    case Family::Inet: return "inet";
    case Family::Ipv4: return "ip";
    case Family::Arp: return "arp";
    case Family::Netdev: return "netdev";
    case Family::Bridge: return "bridge";
    case Family::Ipv6: return "ip6";
  }
  return "unknown";
}

std::optional<Ipv4Prefix> Ipv4Prefix::parse(std::string_view cidr) {
  auto slash = cidr.find('/');
  std::string addr(cidr.substr(0, slash));
  int length = 32;
  if (slash != std::string_view::npos) {
    auto digits = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() || length < 0 || length > 32)
      return std::nullopt;
  }
  in_addr a{};
  if (inet_pton(AF_INET, addr.c_str(), &a) != 1) return std::nullopt;
  uint32_t mask = length == 0 ? 0 : ~uint32_t(0) << (32 - length);
  return Ipv4Prefix{ntohl(a.s_addr) & mask, length};
}

std::string Ipv4Prefix::to_string() const {
  in_addr a{htonl(address)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(length);
}

bool Ipv4Prefix::contains(const Ipv4Prefix& other) const {
  if (other.length < length) return false;
  uint32_t mask = length == 0 ? 0 : ~uint32_t(0) << (32 - length);
  return (other.address & mask) == address;
}

void Rule::Free::operator()(nftnl_rule* r) const { nftnl_rule_free(r); }

Rule::Rule(Family family, std::string table, std::string chain)
    : rule_(checked(nftnl_rule_alloc())), family_(family), table_(std::move(table)), chain_(std::move(chain)) {
  nftnl_rule_set_u32(rule_.get(), NFTNL_RULE_FAMILY, uint32_t(family_));
  nftnl_rule_set_str(rule_.get(), NFTNL_RULE_TABLE, table_.c_str());
  nftnl_rule_set_str(rule_.get(), NFTNL_RULE_CHAIN, chain_.c_str());
}

Rule::~Rule() = default;
Rule::Rule(Rule&&) noexcept = default;
Rule& Rule::operator=(Rule&&) noexcept = default;

namespace {
// Adds an expression to the rule, which owns it from then on.
nftnl_expr* add_expr(nftnl_rule* rule, size_t& count, const char* name) {
  if (count >= kMaxExpressionsPerRule)
    throw std::length_error("an nftables rule holds at most " + std::to_string(kMaxExpressionsPerRule) + " expressions");
  ExprPtr e(checked(nftnl_expr_alloc(name)));
  nftnl_rule_add_expr(rule, e.get());
  ++count;
  return e.release();
}

void check_data(const std::vector<uint8_t>& data) {
  if (data.empty() || data.size() > kMaxExpressionData)
    throw std::length_error("nftables expression data must be 1 to " + std::to_string(kMaxExpressionData) + " bytes");
}
}  // namespace

Rule& Rule::payload(PayloadBase base, uint32_t offset, uint32_t length, Register dreg) {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, uint32_t(dreg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, uint32_t(base));
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, length);
  return *this;
}

Rule& Rule::meta(uint32_t key, Register dreg) {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, uint32_t(dreg));
  return *this;
}

Rule& Rule::bitwise(Register reg, std::vector<uint8_t> mask, std::vector<uint8_t> xor_bits) {
  check_data(mask);
  if (xor_bits.size() != mask.size()) throw std::invalid_argument("nftables bitwise: mask and xor differ in length");
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "bitwise");
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, uint32_t(reg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, uint32_t(reg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, uint32_t(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), uint32_t(mask.size()));
  nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor_bits.data(), uint32_t(xor_bits.size()));
  return *this;
}

Rule& Rule::cmp(Register reg, CmpOp op, std::vector<uint8_t> data) {
  check_data(data);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, uint32_t(reg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, uint32_t(op));
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data.data(), uint32_t(data.size()));
  return *this;
}

Rule& Rule::counter() {
  add_expr(rule_.get(), expressions_, "counter");
  return *this;
}

Rule& Rule::masquerade() {
  add_expr(rule_.get(), expressions_, "masq");
  return *this;
}

Rule& Rule::verdict(Verdict verdict, const std::string& chain) {
  if ((verdict == Verdict::Jump || verdict == Verdict::Goto) == chain.empty())
    throw std::invalid_argument("nftables verdict: jump and goto need a chain, other verdicts none");
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, uint32_t(int32_t(verdict)));
  if (!chain.empty()) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain.c_str());
  return *this;
}

Rule& Rule::comment(const std::string& text) {
  if (text.size() > kMaxCommentLength)
    throw std::length_error("an nftables comment holds at most " + std::to_string(kMaxCommentLength) + " characters");
  std::unique_ptr<nftnl_udata_buf, UdataFree> buf(checked(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)));
  nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_RULE_COMMENT, text.c_str());
  nftnl_rule_set_data(rule_.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(buf.get()),
                      nftnl_udata_buf_len(buf.get()));
  return *this;
}

// As nft compiles `ip saddr 10.0.0.0/8`: load the 4 address bytes, mask them unless the prefix is a whole
// address, compare with the network.
Rule& Rule::match_ipv4_prefix(uint32_t offset, const Ipv4Prefix& prefix, bool negate) {
  payload(PayloadBase::Network, offset, 4);
  if (prefix.length < 32) {
    uint32_t mask = prefix.length == 0 ? 0 : ~uint32_t(0) << (32 - prefix.length);
    bitwise(Register::R1, be32(mask), be32(0));
  }
  return cmp(Register::R1, negate ? CmpOp::Neq : CmpOp::Eq, be32(prefix.address));
}

// Offsets of the source and destination addresses in the IPv4 header.
Rule& Rule::match_ip_saddr(const Ipv4Prefix& prefix, bool negate) { return match_ipv4_prefix(12, prefix, negate); }
Rule& Rule::match_ip_daddr(const Ipv4Prefix& prefix, bool negate) { return match_ipv4_prefix(16, prefix, negate); }

void Transaction::add_table(Family family, const std::string& name) {
  TablePtr t = make_table(family, name);
  messages_.push_back(build(describe("add", "table", family, name), NFT_MSG_NEWTABLE, family, NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); }));
}

void Transaction::delete_table(Family family, const std::string& name) {
  TablePtr t = make_table(family, name);
  messages_.push_back(build(describe("delete", "table", family, name), NFT_MSG_DELTABLE, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); }));
}

void Transaction::replace_table(Family family, const std::string& name) {
  add_table(family, name);
  delete_table(family, name);
  add_table(family, name);
}

void Transaction::add_chain(const Chain& chain) {
  ChainPtr c = make_chain(chain.family, chain.table, chain.name);
  if (chain.base) {
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, uint32_t(chain.base->hook));
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.base->priority);
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.base->type.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, chain.base->policy_accept ? NF_ACCEPT : NF_DROP);
  }
  messages_.push_back(build(describe("add", "chain", chain.family, chain.table, chain.name), NFT_MSG_NEWCHAIN,
                            chain.family, NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); }));
}

void Transaction::flush_chain(Family family, const std::string& table, const std::string& chain) {
  // A rule deletion naming the chain but no rule handle empties the chain.
  Rule r(family, table, chain);
  messages_.push_back(build(describe("flush", "chain", family, table, chain), NFT_MSG_DELRULE, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.native()); }));
}

void Transaction::delete_chain(Family family, const std::string& table, const std::string& chain) {
  ChainPtr c = make_chain(family, table, chain);
  messages_.push_back(build(describe("delete", "chain", family, table, chain), NFT_MSG_DELCHAIN, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); }));
}

void Transaction::add_rule(const Rule& rule) {
  messages_.push_back(build(describe("add", "rule", rule.family(), rule.table(), rule.chain()), NFT_MSG_NEWRULE,
                            rule.family(), NLM_F_APPEND | NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.native()); }));
}

std::vector<std::string> Transaction::operations() const {
  std::vector<std::string> out;
  for (const auto& m : messages_) out.push_back(m.operation);
  return out;
}

WriterPtr make_netlink_writer() { return std::make_unique<NetlinkWriter>(); }

}  // namespace kctl::nft
