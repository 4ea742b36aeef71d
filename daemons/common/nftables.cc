// The nftables transaction writer: libnftnl objects owned by RAII holders and turned into netlink messages as
// operations are added; a commit frames them in one batch (begin ... end), sends it, and reads the kernel's ack for
// every operation so that a refusal names the operation it concerns.
#include "daemons/common/nftables.h"

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
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
#include <libnftnl/set.h>
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
// Elements per message: a key of at most 64 bytes, a chain name of at most 256 and a comment of at most 128, with
// their attribute headers, times this stays well inside kMessageBuffer.
constexpr size_t kElementsPerMessage = 96;
constexpr size_t kMaxKeyLength = 64;
constexpr size_t kMaxNameLength = 255;  // NFT_NAME_MAXLEN - 1
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
struct SetFree {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
using SetPtr = std::unique_ptr<nftnl_set, SetFree>;
using UdataPtr = std::unique_ptr<nftnl_udata_buf, UdataFree>;
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

void check_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength)
    throw std::length_error("an nftables name holds 1 to " + std::to_string(kMaxNameLength) + " characters");
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

// One socket for all commits: closing a NETLINK_NETFILTER socket makes the kernel wait for the last commit's
// cleanup, an RCU grace period (nft_rcv_nl_event flushes nf_tables' destroy work), which measured 4 to 16 ms on a
// busy 2-core machine: more than a commit of a few set elements takes. Sequence numbers go on from commit to commit,
// so that a late answer to an earlier batch is never taken for one to this one.
class NetlinkWriter : public Writer {
 public:
  std::optional<Error> commit(const Transaction& tx) override;
  std::optional<TableContents> list_table(Family family, const std::string& table, Error* error) override;

 private:
  std::optional<Error> open();
  SocketPtr sock_;
  uint32_t next_seq_ = 1;
};

std::optional<Error> NetlinkWriter::open() {
  auto fail = [](const std::string& what) { return Error{errno, what + ": " + std::strerror(errno)}; };
  SocketPtr sock(mnl_socket_open(NETLINK_NETFILTER));
  if (!sock) return fail("open a netfilter netlink socket");
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) return fail("bind the netfilter netlink socket");
  int one = 1;
  // Errors without a copy of the refused message, but with the kernel's explanation when it has one.
  mnl_socket_setsockopt(sock.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(sock.get(), NETLINK_EXT_ACK, &one, sizeof one);
  sock_ = std::move(sock);
  return std::nullopt;
}

std::optional<Error> NetlinkWriter::commit(const Transaction& tx) {
  if (tx.empty()) return std::nullopt;
  auto fail = [&](const std::string& what) {
    Error e{errno, what + ": " + std::strerror(errno)};
    sock_.reset();  // in an unknown state: the next commit starts on a fresh one
    return e;
  };
  if (!sock_)
    if (auto err = open()) return err;
  mnl_socket* sock = sock_.get();
  int fd = mnl_socket_get_fd(sock);
  uint32_t portid = mnl_socket_get_portid(sock);
  std::vector<char> buf(kReceiveBuffer);
  // Whatever an earlier commit left unread (it stopped at its first error) is no answer to this one.
  for (pollfd p{fd, POLLIN, 0}; ::poll(&p, 1, 0) > 0; p.revents = 0)
    if (mnl_socket_recvfrom(sock, buf.data(), buf.size()) <= 0) break;

  // begin, the operations, end. The kernel answers every operation it refuses, and the last one in any case (it
  // asks for an ack): the batch is processed in order within the send, so once the last operation is answered,
  // every refusal has been too. Acks for all operations would cost the kernel an skb each (about a kilobyte of
  // receive buffer) for syncs of a hundred thousand operations.
  const auto& messages = tx.messages();
  if (next_seq_ > (1u << 30)) next_seq_ = 1;  // long before it wraps
  const uint32_t begin_seq = next_seq_, end_seq = begin_seq + uint32_t(messages.size()) + 1, last_seq = end_seq - 1;
  next_seq_ = end_seq + 1;
  std::vector<char> batch;
  batch.reserve(tx.bytes() + 64);
  char frame[256];
  nlmsghdr* nlh = nftnl_batch_begin(frame, begin_seq);
  append(batch, frame, nlh->nlmsg_len, begin_seq, false);
  const std::vector<char>& wire = tx.wire();
  for (size_t i = 0; i < messages.size(); ++i)
    append(batch, wire.data() + messages[i].offset, messages[i].length, begin_seq + uint32_t(i) + 1,
           i + 1 == messages.size());
  nlh = nftnl_batch_end(frame, end_seq);
  append(batch, frame, nlh->nlmsg_len, end_seq, false);

  // The kernel takes the batch in one message and queues its answers before the send returns: both buffers must
  // hold them.
  grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, batch.size() + 4096);
  grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, kReceiveBuffer + 16 * kAckRoom);
  if (mnl_socket_sendto(sock, batch.data(), batch.size()) < 0) return fail("send the nftables batch");

  auto operation = [&](uint32_t seq) -> std::string {
    if (seq > begin_seq && seq - begin_seq - 1 < messages.size()) return messages[seq - begin_seq - 1].operation;
    return "nftables transaction";
  };
  auto ours = [&](const nlmsghdr* m) {
    return m->nlmsg_pid == portid && m->nlmsg_type == NLMSG_ERROR && m->nlmsg_seq >= begin_seq &&
           m->nlmsg_seq <= end_seq;
  };
  std::optional<Error> first;
  bool answered = false;
  auto deadline = std::chrono::steady_clock::now() + kAckTimeout;
  while (!answered) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, int(std::max<int64_t>(left.count(), 0)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (first) break;
      sock_.reset();  // its answers may still come: the next commit starts on a fresh socket
      return Error{ETIMEDOUT, "nftables transaction: the kernel did not answer its " +
                                  std::to_string(messages.size()) + " operations"};
    }
    ssize_t len = mnl_socket_recvfrom(sock, buf.data(), buf.size());
    if (len < 0) {
      if (errno == EINTR) continue;
      // ENOBUFS: answers were lost, so the outcome is unknown; the caller treats it as a failure and resyncs.
      return fail("read the kernel's answer to the nftables transaction");
    }
    int left_bytes = int(len);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, left_bytes);
         m = mnl_nlmsg_next(m, &left_bytes)) {
      if (!ours(m)) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
      if (err->error != 0 && !first) {
        std::string text = operation(m->nlmsg_seq) + ": " + std::strerror(-err->error);
        if (std::string extra = ext_ack_message(m); !extra.empty()) text += " (" + extra + ")";
        first = Error{-err->error, text};
      }
      if (m->nlmsg_seq == begin_seq || m->nlmsg_seq == end_seq) {
        // The batch itself was refused (no permission, no nftables) or failed at commit: no operation took effect.
        if (!first) first = Error{EPROTO, "nftables transaction: refused as a whole"};
        return first;
      }
      if (m->nlmsg_seq == last_seq) answered = true;
    }
  }
  // A commit that fails after every operation was accepted (validation) is reported on the batch's first message,
  // after the operations' answers: take what is already queued.
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
    ssize_t len = mnl_socket_recvfrom(sock, buf.data(), buf.size());
    if (len <= 0) break;
    int left_bytes = int(len);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, left_bytes);
         m = mnl_nlmsg_next(m, &left_bytes)) {
      if (!ours(m)) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
      if (err->error != 0 && !first) {
        std::string text = operation(m->nlmsg_seq) + ": " + std::strerror(-err->error);
        if (std::string extra = ext_ack_message(m); !extra.empty()) text += " (" + extra + ")";
        first = Error{-err->error, text};
      }
    }
  }
  return first;
}

// Dumps one kind of object of a table (NFT_MSG_GETCHAIN or NFT_MSG_GETSET) and collects their names.
std::optional<Error> dump_names(mnl_socket* sock, uint16_t type, Family family, const std::string& table,
                                std::vector<std::string>& names, bool& table_missing) {
  char req[1024];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, type, uint16_t(family), NLM_F_DUMP | NLM_F_ACK, 1);
  if (type == NFT_MSG_GETSET) {
    SetPtr set(checked(nftnl_set_alloc()));
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_nlmsg_build_payload(nlh, set.get());
  } else {
    ChainPtr chain(checked(nftnl_chain_alloc()));
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_nlmsg_build_payload(nlh, chain.get());
  }
  if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0)
    return Error{errno, std::string("ask for the table's objects: ") + std::strerror(errno)};
  struct Collect {
    uint16_t type;
    std::vector<std::string>* names;
    std::string table;
  } collect{type, &names, table};
  auto on_message = [](const nlmsghdr* m, void* data) -> int {
    auto* c = static_cast<Collect*>(data);
    if (c->type == NFT_MSG_GETSET) {
      SetPtr set(nftnl_set_alloc());
      if (set && nftnl_set_nlmsg_parse(m, set.get()) == 0 &&
          c->table == nftnl_set_get_str(set.get(), NFTNL_SET_TABLE))
        c->names->push_back(nftnl_set_get_str(set.get(), NFTNL_SET_NAME));
    } else {
      ChainPtr chain(nftnl_chain_alloc());
      if (chain && nftnl_chain_nlmsg_parse(m, chain.get()) == 0 &&
          c->table == nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_TABLE))
        c->names->push_back(nftnl_chain_get_str(chain.get(), NFTNL_CHAIN_NAME));
    }
    return MNL_CB_OK;
  };
  std::vector<char> buf(kReceiveBuffer * 4);
  uint32_t portid = mnl_socket_get_portid(sock);
  for (;;) {
    ssize_t len = mnl_socket_recvfrom(sock, buf.data(), buf.size());
    if (len < 0) return Error{errno, std::string("read the table's objects: ") + std::strerror(errno)};
    int r = mnl_cb_run(buf.data(), size_t(len), 1, portid, on_message, &collect);
    if (r == MNL_CB_STOP) return std::nullopt;
    if (r < 0) {
      if (errno == ENOENT) {
        table_missing = true;
        return std::nullopt;
      }
      return Error{errno, std::string("read the table's objects: ") + std::strerror(errno)};
    }
  }
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

Rule& Rule::ct(uint32_t key, Register dreg) {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "ct");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, uint32_t(dreg));
  return *this;
}

Rule& Rule::meta_set(uint32_t key, Register sreg) {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, uint32_t(sreg));
  return *this;
}

Rule& Rule::immediate(Register dreg, std::vector<uint8_t> data) {
  check_data(data);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, uint32_t(dreg));
  nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data.data(), uint32_t(data.size()));
  return *this;
}

Rule& Rule::numgen_random(uint32_t modulus, Register dreg) {
  if (modulus == 0) throw std::invalid_argument("nftables numgen: the modulus must be at least 1");
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "numgen");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, uint32_t(dreg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, modulus);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
  return *this;
}

Rule& Rule::lookup(const std::string& set, Register sreg, bool negate) {
  check_name(set);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, uint32_t(sreg));
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
  if (negate) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
  return *this;
}

Rule& Rule::vmap(const std::string& map, Register sreg) {
  check_name(map);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, uint32_t(sreg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map.c_str());
  return *this;
}

Rule& Rule::map(const std::string& map, Register sreg, Register dreg) {
  check_name(map);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "lookup");
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, uint32_t(sreg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, uint32_t(dreg));
  nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, map.c_str());
  return *this;
}

Rule& Rule::dynset_update(const std::string& set, Register sreg) {
  check_name(set);
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "dynset");
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, uint32_t(sreg));
  nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
  nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set.c_str());
  return *this;
}

Rule& Rule::dnat(Register addr, Register port) {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "nat");
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, uint32_t(addr));
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, uint32_t(port));
  nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
  return *this;
}

Rule& Rule::masquerade_fully_random() {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "masq");
  nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
  return *this;
}

Rule& Rule::reject() {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "reject");
  nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
  nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 3);  // ICMP_PORT_UNREACH
  return *this;
}

Rule& Rule::reject_tcp_reset() {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "reject");
  nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
  nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
  return *this;
}

namespace {
std::vector<uint8_t> host32(uint32_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  return {p, p + 4};
}
}  // namespace

Rule& Rule::match_ip_saddr_is(uint32_t address) {
  payload(PayloadBase::Network, 12, 4);
  return cmp(Register::R1, CmpOp::Eq, be32(address));
}

Rule& Rule::match_l4proto(uint8_t protocol) {
  meta(NFT_META_L4PROTO);
  return cmp(Register::R1, CmpOp::Eq, {protocol});
}

Rule& Rule::match_ct_state_new() {
  ct(NFT_CT_STATE);
  bitwise(Register::R1, host32(NF_CT_STATE_BIT(IP_CT_NEW)), host32(0));
  return cmp(Register::R1, CmpOp::Neq, host32(0));
}

Rule& Rule::match_ct_status_dnat() {
  ct(NFT_CT_STATUS);
  bitwise(Register::R1, host32(IPS_DST_NAT), host32(0));
  return cmp(Register::R1, CmpOp::Neq, host32(0));
}

Rule& Rule::match_fib_daddr_local() {
  nftnl_expr* e = add_expr(rule_.get(), expressions_, "fib");
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, uint32_t(Register::R1));
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
  nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
  return cmp(Register::R1, CmpOp::Eq, host32(RTN_LOCAL));
}

Rule& Rule::match_mark_bits_clear(uint32_t bits) {
  meta(NFT_META_MARK);
  bitwise(Register::R1, host32(bits), host32(0));
  return cmp(Register::R1, CmpOp::Eq, host32(0));
}

Rule& Rule::set_mark_or(uint32_t bits) {
  meta(NFT_META_MARK);
  bitwise(Register::R1, host32(~bits), host32(bits));
  return meta_set(NFT_META_MARK);
}

Rule& Rule::set_mark_xor(uint32_t bits) {
  meta(NFT_META_MARK);
  bitwise(Register::R1, host32(0xffffffffu), host32(bits));
  return meta_set(NFT_META_MARK);
}

// Offsets: the IPv4 source and destination addresses at 12 and 16 of the network header, the destination port at 2
// of the transport header (`th dport`: TCP, UDP and SCTP alike).
Rule& Rule::load_daddr_l4proto_dport() {
  payload(PayloadBase::Network, 16, 4, Register::R1);
  meta(NFT_META_L4PROTO, reg32(1));
  return payload(PayloadBase::Transport, 2, 2, reg32(2));
}

Rule& Rule::load_l4proto_dport() {
  meta(NFT_META_L4PROTO, Register::R1);
  return payload(PayloadBase::Transport, 2, 2, reg32(1));
}

Rule& Rule::load_ip_saddr() { return payload(PayloadBase::Network, 12, 4); }
Rule& Rule::load_ip_daddr() { return payload(PayloadBase::Network, 16, 4); }
Rule& Rule::load_ip_saddr_daddr() {
  payload(PayloadBase::Network, 12, 4, Register::R1);
  return payload(PayloadBase::Network, 16, 4, reg32(1));
}

Rule& Rule::dnat_to(uint32_t address, uint16_t port) {
  immediate(Register::R1, be32(address));
  uint16_t n = htons(port);
  const auto* p = reinterpret_cast<const uint8_t*>(&n);
  immediate(Register::R2, {p[0], p[1]});
  return dnat(Register::R1, Register::R2);
}

void Transaction::add_table(Family family, const std::string& name) {
  TablePtr t = make_table(family, name);
  append(describe("add", "table", family, name), NFT_MSG_NEWTABLE, family, NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
}

void Transaction::delete_table(Family family, const std::string& name) {
  TablePtr t = make_table(family, name);
  append(describe("delete", "table", family, name), NFT_MSG_DELTABLE, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); });
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
  append(describe("add", "chain", chain.family, chain.table, chain.name), NFT_MSG_NEWCHAIN,
                            chain.family, NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
}

void Transaction::flush_chain(Family family, const std::string& table, const std::string& chain) {
  // A rule deletion naming the chain but no rule handle empties the chain.
  Rule r(family, table, chain);
  append(describe("flush", "chain", family, table, chain), NFT_MSG_DELRULE, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.native()); });
}

void Transaction::delete_chain(Family family, const std::string& table, const std::string& chain) {
  ChainPtr c = make_chain(family, table, chain);
  append(describe("delete", "chain", family, table, chain), NFT_MSG_DELCHAIN, family, 0,
                            [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, c.get()); });
}

void Transaction::add_rule(const Rule& rule) {
  append(describe("add", "rule", rule.family(), rule.table(), rule.chain()), NFT_MSG_NEWRULE,
                            rule.family(), NLM_F_APPEND | NLM_F_CREATE,
                            [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.native()); });
}

template <typename Payload>
void Transaction::append(std::string operation, uint16_t type, Family family, uint16_t flags, Payload&& payload) {
  // Built in a scratch buffer (libnftnl writes without bounds; the limits above keep every message inside it),
  // then copied to the end of the wire.
  thread_local std::vector<char> scratch(kMessageBuffer);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(scratch.data(), type, uint16_t(family), flags, 0);
  payload(nlh);
  size_t offset = bytes_.size();
  bytes_.insert(bytes_.end(), scratch.data(), scratch.data() + nlh->nlmsg_len);
  messages_.push_back({offset, nlh->nlmsg_len, std::move(operation)});
}

namespace {
uint32_t datatype_length(DataType type) {
  switch (type) {
    case DataType::Ipv4Addr: return 4;
    case DataType::InetProto: return 1;
    case DataType::InetService: return 2;
    case DataType::Mark: return 4;
    case DataType::Integer: return 4;  // as a key field: what numgen and meta mark load
    case DataType::Verdict: return 0;
  }
  return 0;
}

DataType field_type(Field f) {
  switch (f) {
    case Field::IpDaddr: return DataType::Ipv4Addr;
    case Field::L4Proto: return DataType::InetProto;
    case Field::ThDport: return DataType::InetService;
    case Field::TcpDport: return DataType::InetService;
    case Field::NumgenRandom: return DataType::Integer;
  }
  return DataType::Integer;
}

// nft's record of a `typeof` (src/*.c `*_build_udata` of nft 1.0.6): the expression's type and its own
// attributes, a concatenation nesting one such record per field.
void put_typeof_field(nftnl_udata_buf* buf, Field f) {
  constexpr uint32_t kPayload = 7, kMeta = 9, kNumgen = 23;  // nft's expression type ids
  constexpr uint32_t kProtoDescIp = 12, kIpDaddr = 12, kProtoDescTcp = 8, kProtoDescTh = 11, kDport = 2;
  auto attrs = [&](uint32_t type, std::initializer_list<uint32_t> values) {
    nftnl_udata_put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, type);
    nftnl_udata* nest = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
    uint8_t i = 0;
    for (uint32_t v : values) nftnl_udata_put_u32(buf, i++, v);
    nftnl_udata_nest_end(buf, nest);
  };
  switch (f) {
    case Field::IpDaddr: attrs(kPayload, {kProtoDescIp, kIpDaddr}); break;
    case Field::L4Proto: attrs(kMeta, {NFT_META_L4PROTO}); break;
    case Field::ThDport: attrs(kPayload, {kProtoDescTh, kDport}); break;
    case Field::TcpDport: attrs(kPayload, {kProtoDescTcp, kDport}); break;
    case Field::NumgenRandom: attrs(kNumgen, {NFT_NG_RANDOM, 1, 0}); break;
  }
}

void put_typeof(nftnl_udata_buf* buf, uint8_t type, const std::vector<Field>& fields) {
  constexpr uint32_t kConcat = 13;
  nftnl_udata* outer = nftnl_udata_nest_start(buf, type);
  if (fields.size() == 1) {
    put_typeof_field(buf, fields[0]);
  } else {
    nftnl_udata_put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, kConcat);
    nftnl_udata* list = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
    for (size_t i = 0; i < fields.size(); ++i) {
      nftnl_udata* one = nftnl_udata_nest_start(buf, uint8_t(i));
      put_typeof_field(buf, fields[i]);
      nftnl_udata_nest_end(buf, one);
    }
    nftnl_udata_nest_end(buf, list);
  }
  nftnl_udata_nest_end(buf, outer);
}

// nft's encoding of a concatenated type: 6 bits per field, the first field highest; each field takes whole 32-bit
// registers (a single field: its own length).
std::pair<uint32_t, uint32_t> type_and_length(const std::vector<DataType>& types) {
  uint32_t type = 0, length = 0;
  for (DataType t : types) {
    type = (type << 6) | uint32_t(t);
    length += (datatype_length(t) + 3) / 4 * 4;
  }
  if (types.size() == 1) length = datatype_length(types[0]);
  return {type, length};
}

// A set is named in error messages with what it is: "add map ip kctl service-ips".
std::string set_noun(bool map) { return map ? "map" : "set"; }

}  // namespace

void Transaction::add_set(const Set& set) {
  check_name(set.name);
  std::vector<DataType> key = set.key, data;
  if (set.data) data = {*set.data};
  if (!set.key_typeof.empty()) {
    key.clear();
    for (Field f : set.key_typeof) key.push_back(field_type(f));
  }
  for (Field f : set.data_typeof) data.push_back(field_type(f));
  if (key.empty()) throw std::invalid_argument("nftables set " + set.name + ": a key needs a type");
  if (!set.data_typeof.empty() && set.data)
    throw std::invalid_argument("nftables set " + set.name + ": data by type or by typeof, not both");
  bool map = !data.empty();
  SetPtr s(checked(nftnl_set_alloc()));
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, uint32_t(set.family));
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, set.table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  auto [key_type, key_len] = type_and_length(key);
  if (key_len == 0 || key_len > kMaxKeyLength) throw std::invalid_argument("nftables set " + set.name + ": bad key");
  uint32_t flags = 0;
  if (map) flags |= NFT_SET_MAP;
  if (set.timeout_seconds > 0) flags |= NFT_SET_TIMEOUT;
  if (set.dynamic) flags |= NFT_SET_EVAL;
  if (set.anonymous) flags |= NFT_SET_ANONYMOUS | NFT_SET_CONSTANT;
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, key_len);
  // Sets made in a transaction are told apart by an id as well as their name (the kernel wants one).
  static std::atomic<uint32_t> next_id{1};
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, next_id++);
  if (map) {
    if (data.size() == 1 && data[0] == DataType::Verdict) {
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 0);
    } else {
      auto [data_type, data_len] = type_and_length(data);
      if (data_len == 0 || data_len > kMaxKeyLength)
        throw std::invalid_argument("nftables set " + set.name + ": bad data");
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, data_type);
      nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, data_len);
    }
  }
  if (set.timeout_seconds > 0) nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, uint64_t(set.timeout_seconds) * 1000);
  if (!set.comment.empty() || !set.key_typeof.empty()) {
    if (set.comment.size() > kMaxCommentLength)
      throw std::length_error("an nftables comment holds at most " + std::to_string(kMaxCommentLength) + " characters");
    UdataPtr ud(checked(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)));
    if (!set.key_typeof.empty()) {
      // As nft writes them for a typeof declaration: byte orders unknown (0) for concatenations, no intervals.
      nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_KEYBYTEORDER, 0);
      if (map) nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_DATABYTEORDER, 0);
      put_typeof(ud.get(), NFTNL_UDATA_SET_KEY_TYPEOF, set.key_typeof);
      if (!set.data_typeof.empty()) put_typeof(ud.get(), NFTNL_UDATA_SET_DATA_TYPEOF, set.data_typeof);
      if (map) nftnl_udata_put_u32(ud.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
    }
    if (!set.comment.empty()) nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_SET_COMMENT, set.comment.c_str());
    nftnl_set_set_data(s.get(), NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()), nftnl_udata_buf_len(ud.get()));
  }
  append(describe("add", set_noun(map).c_str(), set.family, set.table, set.name), NFT_MSG_NEWSET,
         set.family, NLM_F_CREATE, [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
}

namespace {
SetPtr make_set_ref(Family family, const std::string& table, const std::string& name) {
  SetPtr s(checked(nftnl_set_alloc()));
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, uint32_t(family));
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  return s;
}

void check_key(const Key& key) {
  if (key.bytes().empty() || key.bytes().size() > kMaxKeyLength)
    throw std::length_error("an nftables set key holds 1 to " + std::to_string(kMaxKeyLength) + " bytes");
}
}  // namespace

void Transaction::delete_set(Family family, const std::string& table, const std::string& set) {
  SetPtr s = make_set_ref(family, table, set);
  append(describe("delete", "set", family, table, set), NFT_MSG_DELSET, family, 0,
         [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, s.get()); });
}

void Transaction::flush_set(Family family, const std::string& table, const std::string& set) {
  // An element deletion naming the set but no element empties it.
  SetPtr s = make_set_ref(family, table, set);
  append(describe("flush", "set", family, table, set), NFT_MSG_DELSETELEM, family, 0,
         [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
}

void Transaction::add_elements(Family family, const std::string& table, const std::string& set,
                               const std::vector<Element>& elements) {
  for (size_t at = 0; at < elements.size(); at += kElementsPerMessage) {
    SetPtr s = make_set_ref(family, table, set);
    for (size_t i = at; i < elements.size() && i < at + kElementsPerMessage; ++i) {
      const Element& e = elements[i];
      check_key(e.key);
      nftnl_set_elem* el = checked(nftnl_set_elem_alloc());
      nftnl_set_elem_add(s.get(), el);  // the set owns it from here
      nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, e.key.bytes().data(), uint32_t(e.key.bytes().size()));
      if (e.verdict != Verdict::Continue) {
        if ((e.verdict == Verdict::Jump || e.verdict == Verdict::Goto) == e.chain.empty())
          throw std::invalid_argument("nftables element verdict: jump and goto need a chain, other verdicts none");
        if (!e.chain.empty()) check_name(e.chain);
        nftnl_set_elem_set_u32(el, NFTNL_SET_ELEM_VERDICT, uint32_t(int32_t(e.verdict)));
        if (!e.chain.empty()) nftnl_set_elem_set_str(el, NFTNL_SET_ELEM_CHAIN, e.chain.c_str());
      } else if (!e.data.empty()) {
        if (e.data.size() > kMaxKeyLength) throw std::length_error("nftables element data too long");
        nftnl_set_elem_set(el, NFTNL_SET_ELEM_DATA, e.data.data(), uint32_t(e.data.size()));
      }
      if (!e.comment.empty()) {
        if (e.comment.size() > kMaxCommentLength)
          throw std::length_error("an nftables comment holds at most " + std::to_string(kMaxCommentLength) +
                                  " characters");
        UdataPtr ud(checked(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)));
        nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_SET_ELEM_COMMENT, e.comment.c_str());
        nftnl_set_elem_set(el, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(ud.get()),
                           nftnl_udata_buf_len(ud.get()));
      }
    }
    append(describe("add", "element", family, table, set), NFT_MSG_NEWSETELEM, family, NLM_F_CREATE,
           [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
  }
}

void Transaction::delete_elements(Family family, const std::string& table, const std::string& set,
                                  const std::vector<Key>& keys) {
  for (size_t at = 0; at < keys.size(); at += kElementsPerMessage) {
    SetPtr s = make_set_ref(family, table, set);
    for (size_t i = at; i < keys.size() && i < at + kElementsPerMessage; ++i) {
      check_key(keys[i]);
      nftnl_set_elem* el = checked(nftnl_set_elem_alloc());
      nftnl_set_elem_add(s.get(), el);
      nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, keys[i].bytes().data(), uint32_t(keys[i].bytes().size()));
    }
    append(describe("delete", "element", family, table, set), NFT_MSG_DELSETELEM, family, 0,
           [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, s.get()); });
  }
}

std::vector<std::string> Transaction::operations() const {
  std::vector<std::string> out;
  for (const auto& m : messages_) out.push_back(m.operation);
  return out;
}

Key& Key::ipv4(uint32_t address) {
  uint32_t n = htonl(address);
  const auto* p = reinterpret_cast<const uint8_t*>(&n);
  bytes_.insert(bytes_.end(), p, p + 4);
  return *this;
}

Key& Key::proto(uint8_t protocol) {
  bytes_.insert(bytes_.end(), {protocol, 0, 0, 0});
  return *this;
}

Key& Key::port(uint16_t port) {
  bytes_.insert(bytes_.end(), {uint8_t(port >> 8), uint8_t(port & 0xff), 0, 0});
  return *this;
}

Key& Key::number(uint32_t value) { return mark(value); }  // the same bytes: 32 bits in host byte order

Key& Key::mark(uint32_t mark) {
  const auto* p = reinterpret_cast<const uint8_t*>(&mark);  // host byte order, as meta mark and numgen load it
  bytes_.insert(bytes_.end(), p, p + 4);
  return *this;
}

std::optional<TableContents> Writer::list_table(Family, const std::string&, Error* error) {
  if (error) *error = Error{ENOTSUP, "this nftables writer cannot read tables"};
  return std::nullopt;
}

namespace {
std::optional<TableContents> NetlinkWriter::list_table(Family family, const std::string& table, Error* error) {
  SocketPtr sock(mnl_socket_open(NETLINK_NETFILTER));
  auto fail = [&](Error e) -> std::optional<TableContents> {
    if (error) *error = std::move(e);
    return std::nullopt;
  };
  if (!sock) return fail({errno, std::string("open a netfilter netlink socket: ") + std::strerror(errno)});
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return fail({errno, std::string("bind the netfilter netlink socket: ") + std::strerror(errno)});
  TableContents out;
  bool missing = false;
  if (auto e = dump_names(sock.get(), NFT_MSG_GETCHAIN, family, table, out.chains, missing)) return fail(*e);
  if (auto e = dump_names(sock.get(), NFT_MSG_GETSET, family, table, out.sets, missing)) return fail(*e);
  // A dump of a table that does not exist answers ENOENT; one that exists but is empty answers nothing.
  TableContents t;
  out.exists = !missing;
  if (missing) return t;
  return out;
}
}  // namespace

WriterPtr make_netlink_writer() { return std::make_unique<NetlinkWriter>(); }

}  // namespace kctl::nft
