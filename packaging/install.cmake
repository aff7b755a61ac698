# SPDX-License-Identifier: Apache-2.0
# Install-time part of packaging/CMakeLists.txt: the unit file, the default config. Runs inside
# cmake_install.cmake, so CMAKE_INSTALL_PREFIX is the prefix of this install (`cmake --install
# --prefix`, cpack's /usr), not the one the build was configured with; the paths written into
# the unit must follow it. Inputs (set by the install(CODE) that includes this file):
# BERTH_PKG_SOURCE_DIR, BERTH_PKG_BINARY_DIR, BERTH_PKG_BINDIR, BERTH_PKG_SYSCONFDIR,
# BERTH_PKG_DOCDIR (GNUInstallDirs values, relative or absolute), BERTH_PKG_UNITDIR (may be empty).

# The absolute form of a GNUInstallDirs directory for this prefix, with GNUInstallDirs' special
# cases for etc (configure-time CMAKE_INSTALL_FULL_* know only the configure-time prefix).
function(berth_pkg_full out dir kind)
  if(IS_ABSOLUTE "${dir}")
    set(full "${dir}")
  elseif(kind STREQUAL "SYSCONFDIR" AND CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(full "/${dir}")
  elseif(kind STREQUAL "SYSCONFDIR" AND CMAKE_INSTALL_PREFIX MATCHES "^/opt/(.*[^/])/?$")
    set(full "/${dir}/opt/${CMAKE_MATCH_1}")
  else()
    string(REGEX REPLACE "/$" "" prefix "${CMAKE_INSTALL_PREFIX}")
    set(full "${prefix}/${dir}")
  endif()
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

berth_pkg_full(CMAKE_INSTALL_FULL_BINDIR "${BERTH_PKG_BINDIR}" BINDIR)
berth_pkg_full(CMAKE_INSTALL_FULL_SYSCONFDIR "${BERTH_PKG_SYSCONFDIR}" SYSCONFDIR)
berth_pkg_full(CMAKE_INSTALL_FULL_DOCDIR "${BERTH_PKG_DOCDIR}" DOCDIR)
if(BERTH_PKG_UNITDIR)
  set(unitdir "${BERTH_PKG_UNITDIR}")
elseif(CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
  # Debian 12 packages (containerd's too) keep units in /lib: moving them to /usr/lib under
  # dpkg's merged-/usr aliasing can lose files on upgrades.
  set(unitdir "/lib/systemd/system")
else()
  # systemd reads /usr/local/lib/systemd/system; other prefixes set BERTH_SYSTEMD_UNITDIR
  berth_pkg_full(unitdir "lib/systemd/system" UNITDIR)
endif()

# berthd reads /etc/berth/config.toml unless told otherwise: a config installed elsewhere is
# named in ExecStart so editing the installed file takes effect.
set(config "${CMAKE_INSTALL_FULL_SYSCONFDIR}/berth/config.toml")
set(BERTHD_CONFIG_ARGS "")
if(NOT config STREQUAL "/etc/berth/config.toml")
  set(BERTHD_CONFIG_ARGS " --config ${config}")
endif()

configure_file("${BERTH_PKG_SOURCE_DIR}/packaging/berthd.service.in"
               "${BERTH_PKG_BINARY_DIR}/packaging/berthd.service" @ONLY)
file(INSTALL DESTINATION "${unitdir}" TYPE FILE FILES
     "${BERTH_PKG_BINARY_DIR}/packaging/berthd.service")
# An operator's edited config survives a reinstall (the .deb's conffile handling does the same).
if(EXISTS "$ENV{DESTDIR}${config}")
  message(STATUS "Keeping: $ENV{DESTDIR}${config}")
else()
  file(INSTALL DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/berth" TYPE FILE FILES
       "${BERTH_PKG_SOURCE_DIR}/packaging/config.toml")
endif()
