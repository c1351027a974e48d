#include "onnx_reinit/output_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnx_reinit {
namespace {

// Named temporaries for the signal handler to remove: fixed slots of pre-formatted paths, claimed
// and released with atomic operations only, so that the handler may read them at any moment.
class SignalCleanup {
 public:
  // Arms a slot for `path` (before the file exists, so that there is no moment when it exists
  // unarmed). Returns the slot, or -1 when the path cannot be covered (all slots taken, too long).
  static int Arm(const std::string& path) {
    InstallHandlersOnce();
    if (path.size() >= sizeof(Slot::path)) return -1;
    for (int i = 0; i < kSlots; ++i) {
      int expected = kFree;
      if (!slots_[i].state.compare_exchange_strong(expected, kClaimed)) continue;
      std::memcpy(slots_[i].path, path.c_str(), path.size() + 1);
      slots_[i].state.store(kArmed, std::memory_order_release);
      return i;
    }
    return -1;
  }

  // Releases the slot once its file is renamed or removed (the handler may then unlink a name that
  // no longer exists, which is harmless).
  static void Disarm(int slot) {
    if (slot < 0) return;
    int expected = kArmed;
    slots_[slot].state.compare_exchange_strong(expected, kFree);
  }

 private:
  enum State : int { kFree, kClaimed, kArmed, kRemoving };
  struct Slot {
    std::atomic<int> state{kFree};
    char path[4096];  // PATH_MAX
  };
  static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");
  static constexpr int kSlots = 32;
  static Slot slots_[kSlots];

  static void RemoveAndReraise(int signal) {
    const int saved_errno = errno;
    for (Slot& slot : slots_) {
      int expected = kArmed;
      if (slot.state.compare_exchange_strong(expected, kRemoving)) ::unlink(slot.path);
    }
    // SA_RESETHAND has restored the default action, and the signal is blocked until this handler
    // returns: then it ends the process, with the exit status that it would have had without us.
    ::raise(signal);
    errno = saved_errno;
  }

  static void InstallHandlersOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
      // A forked child's signals must not remove the files its parent is writing.
      ::pthread_atfork(nullptr, nullptr, [] {
        for (Slot& slot : slots_) slot.state.store(kFree);
      });
      for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction current;
        if (::sigaction(signal, nullptr, &current) != 0) continue;
        if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
        struct sigaction action = {};
        action.sa_handler = RemoveAndReraise;
        sigfillset(&action.sa_mask);  // nothing interrupts the removal
        action.sa_flags = SA_RESETHAND;
        ::sigaction(signal, &action, nullptr);
      }
    });
  }
};

SignalCleanup::Slot SignalCleanup::slots_[SignalCleanup::kSlots];

constexpr int kNameAttempts = 100;

// "<path>.tmp-" and 12 random letters and digits.
std::string TemporaryNameFor(const std::string& path) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char random[12];
  if (::getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    // No entropy yet (early boot): the process id and a counter still make clashes rare, and a
    // clash is retried.
    static std::atomic<unsigned> counter{0};
    const unsigned mix = static_cast<unsigned>(::getpid()) * 2654435761u + counter++;
    for (size_t i = 0; i < sizeof(random); ++i) random[i] = static_cast<unsigned char>(mix >> (i % 4 * 8)) + i;
  }
  std::string name = path + ".tmp-";
  for (unsigned char byte : random) name.push_back(kAlphabet[byte % (sizeof(kAlphabet) - 1)]);
  return name;
}

// Whether unnamed files can be given a name: linkat through /proc/self/fd needs /proc.
bool CanNameUnnamedFiles() {
  static const bool usable = ::access("/proc/self/fd", X_OK) == 0;
  return usable;
}

bool RefusesUnnamedFiles(int error) { return error == EOPNOTSUPP || error == EISDIR || error == EINVAL; }

absl::Status CannotWrite(const std::string& path, int error) {
  return ErrnoError(absl::StrFormat("cannot write %s", path), error);
}

}  // namespace

absl::StatusOr<OutputFile> OutputFile::Create(const std::string& path, const OutputOptions& options) {
  struct stat existing;
  if (::stat(path.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
    return absl::InvalidArgumentError(absl::StrFormat("cannot write %s: it is a directory", path));
  }
  OutputFile out;
  out.path_ = path;
  out.options_ = options;
  if (!options.named_temporary && CanNameUnnamedFiles()) {
    out.file_ = FileDescriptor(::open(FolderOf(path).c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666));
    if (out.fd() >= 0) return out;
    if (!RefusesUnnamedFiles(errno)) return CannotWrite(path, errno);
  }
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    const std::string temporary = TemporaryNameFor(path);
    const int slot = SignalCleanup::Arm(temporary);
    out.file_ = FileDescriptor(::open(temporary.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (out.fd() >= 0) {
      out.temporary_ = temporary;
      out.cleanup_slot_ = slot;
      return out;
    }
    const int error = errno;
    SignalCleanup::Disarm(slot);
    if (error != EEXIST) return CannotWrite(path, error);
  }
  return CannotWrite(path, EEXIST);
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : file_(std::move(other.file_)),
      path_(std::move(other.path_)),
      temporary_(std::move(other.temporary_)),
      cleanup_slot_(std::exchange(other.cleanup_slot_, -1)),
      options_(other.options_),
      done_(std::exchange(other.done_, true)) {}

OutputFile& OutputFile::operator=(OutputFile&& other) noexcept {
  if (this == &other) return *this;
  Discard();
  file_ = std::move(other.file_);
  path_ = std::move(other.path_);
  temporary_ = std::move(other.temporary_);
  cleanup_slot_ = std::exchange(other.cleanup_slot_, -1);
  options_ = other.options_;
  done_ = std::exchange(other.done_, true);
  return *this;
}

OutputFile::~OutputFile() { Discard(); }

void OutputFile::Discard() {
  if (done_) return;
  done_ = true;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  SignalCleanup::Disarm(cleanup_slot_);
  cleanup_slot_ = -1;
  file_ = FileDescriptor();  // an unnamed file goes with its last descriptor
}

absl::Status OutputFile::Fail(const std::string& what, int error) {
  Discard();
  return ErrnoError(absl::StrFormat("cannot %s %s", what, path_), error);
}

absl::Status OutputFile::Commit(const Validator& validate) {
  if (done_) return absl::FailedPreconditionError(absl::StrFormat("%s: committed twice", path_));
  if (options_.fsync && ::fsync(fd()) != 0) return Fail("flush", errno);
  const absl::Status named = unnamed() ? CommitUnnamed(validate) : CommitNamedTemporary(validate);
  if (!named.ok()) return named;
  return options_.fsync ? SyncFolder() : absl::OkStatus();
}

int OutputFile::LinkTo(const std::string& name) const {
  const std::string self = absl::StrCat("/proc/self/fd/", fd());
  return ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0 ? 0 : errno;
}

absl::Status OutputFile::CloseCommitted() {
  done_ = true;
  // After the rename the file is in place whatever close says; on local file systems (the only ones
  // with O_TMPFILE) a close does not fail.
  return file_.Close() == 0 ? absl::OkStatus() : CannotWrite(path_, errno);
}

absl::Status OutputFile::CommitUnnamed(const Validator& validate) {
  if (!validate) {
    // Where the target does not exist, the link names it at once; EEXIST leaves it alone.
    const int error = LinkTo(path_);
    if (error == 0) return CloseCommitted();
    if (error != EEXIST) return Fail("write", error);
  }
  std::string provisional;
  int slot = -1;
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    const std::string name = TemporaryNameFor(path_);
    slot = SignalCleanup::Arm(name);
    const int error = LinkTo(name);
    if (error == 0) {
      provisional = name;
      break;
    }
    SignalCleanup::Disarm(slot);
    if (error != EEXIST) return Fail("write", error);
  }
  if (provisional.empty()) return Fail("write", EEXIST);
  // From here to the rename, kill -9 would leave `provisional` behind; signals remove it.
  absl::Status status = validate ? validate(provisional) : absl::OkStatus();
  if (status.ok() && ::rename(provisional.c_str(), path_.c_str()) != 0) status = CannotWrite(path_, errno);
  if (!status.ok()) ::unlink(provisional.c_str());
  SignalCleanup::Disarm(slot);
  if (!status.ok()) {
    Discard();
    return status;
  }
  return CloseCommitted();
}

absl::Status OutputFile::CommitNamedTemporary(const Validator& validate) {
  // A deferred write error (NFS) surfaces at close: before the rename, so that it stops it.
  if (file_.Close() != 0) return Fail("write", errno);
  absl::Status status = validate ? validate(temporary_) : absl::OkStatus();
  if (status.ok() && ::rename(temporary_.c_str(), path_.c_str()) != 0) status = CannotWrite(path_, errno);
  if (!status.ok()) {
    Discard();
    return status;
  }
  SignalCleanup::Disarm(cleanup_slot_);
  cleanup_slot_ = -1;
  done_ = true;
  return absl::OkStatus();
}

absl::Status OutputFile::SyncFolder() const {
  const std::string folder = FolderOf(path_);
  FileDescriptor directory(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (directory.get() < 0 || ::fsync(directory.get()) != 0) {
    return ErrnoError(absl::StrFormat("cannot flush %s (the folder of %s)", folder, path_), errno);
  }
  return absl::OkStatus();
}

FolderLock::FolderLock(const std::string& path)
    : folder_(::open(FolderOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  if (folder_.get() < 0) return;
  while (::flock(folder_.get(), LOCK_EX) != 0 && errno == EINTR) {
  }
}

}  // namespace onnx_reinit
