// placeholder
namespace kctl {}
