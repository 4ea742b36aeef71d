# The Debian package of everything `cmake --install` puts down: `cpack -G DEB` (or `cmake --build build --target
# deb`) in the build directory writes kctl_VERSION_amd64.deb there. The images install it.
set(CPACK_PACKAGE_NAME kctl)
set(CPACK_PACKAGE_VENDOR kctl)
set(CPACK_PACKAGE_CONTACT "kctl developers <kctl@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kubernetes-compatible cluster built into systemd")
set(CPACK_PACKAGE_DESCRIPTION "kctl runs a Kubernetes-compatible cluster as systemd services: kctl-apiserver, \
kctl-scheduler, kctl-controller-manager, kctl-kubelet (pods as systemd-nspawn containers), kctl-proxy (Services with \
nftables) and kctl-dns, enabled by role with kctl-master.target or kctl-worker.target, and the kctl CLI.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)  # whatever the build's own prefix is
set(CPACK_STRIP_FILES ON)  # the debug info (RelWithDebInfo) is most of the binaries' size
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # kctl_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries the programs link (readelf -d: NEEDED) and what the daemons run or talk to: systemd-nspawn
# (the pods), nftables, iproute2 (the kubelet's node routes), dbus (every daemon's bus name). Names as in bookworm.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libstdc++6, libgcc-s1, zlib1g, libsystemd0, libsdbus-c++1, libsqlite3-0, libmnl0, libnftnl11, \
libyaml-cpp0.7, libssl3, systemd, systemd-container, nftables, iproute2, dbus")
# `kctl local` and the examples run the busybox image, which build-busybox-rootfs makes from this package.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "busybox-static")
# The flags files in /etc/kctl are the administrator's once installed (conffiles: an upgrade keeps their edits);
# postinst and postrm make the directories and tell systemd and dbus-daemon about the new files.
set(KCTL_DEB_CONTROL_DIR ${CMAKE_BINARY_DIR}/packaging)
set(conffiles "")
foreach(daemon apiserver scheduler controller-manager kubelet proxy dns)
  string(APPEND conffiles "/etc/kctl/${daemon}.yaml\n")
endforeach()
file(WRITE ${KCTL_DEB_CONTROL_DIR}/conffiles "${conffiles}")
file(COPY ${CMAKE_SOURCE_DIR}/packaging/postinst ${CMAKE_SOURCE_DIR}/packaging/postrm
     DESTINATION ${KCTL_DEB_CONTROL_DIR})
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${KCTL_DEB_CONTROL_DIR}/conffiles;${KCTL_DEB_CONTROL_DIR}/postinst;${KCTL_DEB_CONTROL_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# cpack (and `make install`) would otherwise build `all` first, every test included: the deb target below builds
# only the programs it packages.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
include(CPack)

# `cmake --build build --target deb`: the programs first, then the package.
add_custom_target(deb
                  COMMAND ${CMAKE_CPACK_COMMAND} -G DEB --config ${CMAKE_BINARY_DIR}/CPackConfig.cmake
                  WORKING_DIRECTORY ${CMAKE_BINARY_DIR}
                  COMMENT "Building the Debian package kctl_${PROJECT_VERSION}_amd64.deb"
                  VERBATIM)
add_dependencies(deb kctl kctl-local kctl-apiserver kctl-scheduler kctl-controller-manager kctl-kubelet kctl-shim
                 kctl-proxy kctl-dns)
