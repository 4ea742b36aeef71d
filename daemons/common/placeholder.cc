// placeholder until the common plumbing lands
namespace kctl {}
