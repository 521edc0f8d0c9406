// LD_PRELOAD library that makes an AVX-512 x86 Linux host look like an AVX2-only one to the process and to every
// dynamically linked program it starts (see tests/isa/as_avx2_machine.sh).
//
// The kernel's CPUID faulting (arch_prctl ARCH_SET_CPUID, x86 Linux >= 4.12 on CPUs or hypervisors that offer it)
// turns every CPUID instruction into a SIGSEGV. The handler runs the real CPUID with faulting briefly off, clears the
// AVX-512 / AMX / AVX10 feature bits and their register-state bits, writes the result into the interrupted context
// and steps over the instruction. So `g++ -march=native`, oneDNN's and MKL's JIT dispatch, numpy's and PyTorch's
// runtime dispatch all choose their AVX2 code, exactly as on a machine without AVX-512.
//
// What it cannot hide: /proc/cpuinfo (the suite asks the compiler instead), and CPUID results taken before it loads
// (glibc's own string-function selection, which does not matter here). Faulting is per thread, inherited by new
// threads and forks and reset by execve; the constructor sets it again in every new program. The SIGSEGV handler has
// to stay installed whatever the program does, so glibc's sigaction is patched to keep a handler the program
// installs behind it (see hooked_sigaction).
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define BIT(n) (1u << (n))
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

// CPUID.(EAX=7,ECX=0): AVX512F DQ IFMA PF ER CD BW VL in EBX; VBMI VBMI2 VNNI BITALG VPOPCNTDQ in ECX;
// 4VNNIW 4FMAPS VP2INTERSECT AMX-BF16 AVX512-FP16 AMX-TILE AMX-INT8 in EDX.
static const uint32_t kLeaf7Ebx = BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31);
static const uint32_t kLeaf7Ecx = BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14);
static const uint32_t kLeaf7Edx = BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25);
// CPUID.(EAX=7,ECX=1): AVX512-BF16 and AMX-FP16 in EAX, AVX10 in EDX.
static const uint32_t kLeaf7Sub1Eax = BIT(5) | BIT(21);
static const uint32_t kLeaf7Sub1Edx = BIT(19);
// CPUID.(EAX=0xD,ECX=0) EAX: the XSAVE state components opmask, ZMM_Hi256, Hi16_ZMM, TILECFG, TILEDATA.
static const uint32_t kXsaveStateEax = BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18);

static struct sigaction app_segv_action;  // the program's own SIGSEGV disposition, kept behind ours
static void *restore_rt;                   // glibc's signal-return trampoline, for raw rt_sigaction calls

// The kernel's struct sigaction on x86-64.
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  unsigned long mask;
};

static long set_cpuid_faulting(int on) { return syscall(SYS_arch_prctl, ARCH_SET_CPUID, on ? 0 : 1); }

static void masked_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t r[4]) {
  set_cpuid_faulting(0);
  __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
  set_cpuid_faulting(1);
  if (leaf == 7 && subleaf == 0) {
    r[1] &= ~kLeaf7Ebx;
    r[2] &= ~kLeaf7Ecx;
    r[3] &= ~kLeaf7Edx;
  } else if (leaf == 7 && subleaf == 1) {
    r[0] &= ~kLeaf7Sub1Eax;
    r[3] &= ~kLeaf7Sub1Edx;
  } else if (leaf == 0xD && subleaf == 0) {
    r[0] &= ~kXsaveStateEax;
  } else if (leaf == 0x1D || leaf == 0x1E || leaf == 0x24) {  // AMX tile and AVX10 information
    r[0] = r[1] = r[2] = r[3] = 0;
  }
}

static int raw_sigaction(int sig, const struct sigaction *action, struct sigaction *old) {
  struct kernel_sigaction new_k, old_k;
  if (action) {
    new_k.handler = (void *)action->sa_handler;
    new_k.flags = (unsigned long)action->sa_flags | SA_RESTORER;
    new_k.restorer = restore_rt;
    memcpy(&new_k.mask, &action->sa_mask, sizeof new_k.mask);
  }
  if (syscall(SYS_rt_sigaction, sig, action ? &new_k : NULL, old ? &old_k : NULL, sizeof new_k.mask) != 0) return -1;
  if (old) {
    memset(old, 0, sizeof *old);
    old->sa_handler = (sighandler_t)old_k.handler;
    old->sa_flags = (int)old_k.flags;
    old->sa_restorer = (void (*)(void))old_k.restorer;
    memcpy(&old->sa_mask, &old_k.mask, sizeof old_k.mask);
  }
  return 0;
}

static void forward_to_program(int sig, siginfo_t *info, void *context) {
  if (app_segv_action.sa_flags & SA_SIGINFO) {
    app_segv_action.sa_sigaction(sig, info, context);
  } else if (app_segv_action.sa_handler != SIG_DFL && app_segv_action.sa_handler != SIG_IGN) {
    app_segv_action.sa_handler(sig);
  } else {  // default action: return and let the fault repeat with the default disposition (core dump)
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    raw_sigaction(SIGSEGV, &dfl, NULL);
  }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
  ucontext_t *uc = (ucontext_t *)context;
  greg_t *regs = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
  if (info->si_code != SI_KERNEL || ip[0] != 0x0F || ip[1] != 0xA2) {
    forward_to_program(sig, info, context);
    return;
  }
  uint32_t r[4];
  masked_cpuid((uint32_t)regs[REG_RAX], (uint32_t)regs[REG_RCX], r);
  regs[REG_RAX] = r[0];
  regs[REG_RBX] = r[1];
  regs[REG_RCX] = r[2];
  regs[REG_RDX] = r[3];
  regs[REG_RIP] += 2;
}

// Replaces glibc's sigaction (and so signal(), which calls it): a SIGSEGV handler the program installs (Python's
// faulthandler, Jittor's stack printer) is recorded and called for every fault that is not a CPUID, while ours stays
// installed. glibc's function itself is patched, not just its symbol interposed, because libraries loaded with
// RTLD_DEEPBIND (Jittor's core) bind to glibc's copy directly.
static int hooked_sigaction(int sig, const struct sigaction *action, struct sigaction *old) {
  if (sig == 32 || sig == 33) {  // glibc's internal cancellation / setxid signals
    errno = EINVAL;
    return -1;
  }
  if (sig != SIGSEGV) return raw_sigaction(sig, action, old);
  if (old) *old = app_segv_action;
  if (action) app_segv_action = *action;
  return 0;
}

static int jump_to(void *from, void *to) {
  // movabs rax, to; jmp rax
  unsigned char code[12] = {0x48, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xE0};
  memcpy(code + 2, &to, sizeof to);
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t first = (uintptr_t)from & ~(uintptr_t)(page - 1);
  size_t length = (uintptr_t)from + sizeof code - first;
  if (mprotect((void *)first, length, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) return -1;
  memcpy(from, code, sizeof code);
  __builtin___clear_cache((char *)from, (char *)from + sizeof code);
  return mprotect((void *)first, length, PROT_READ | PROT_EXEC);
}

static void fail(const char *why) {
  fprintf(stderr, "hide_avx512: %s; AVX-512 stays visible\n", why);
  exit(3);
}

__attribute__((constructor(101))) static void hide_avx512(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_segv;
  action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGSEGV, &action, &app_segv_action) != 0) fail("cannot install the SIGSEGV handler");
  struct kernel_sigaction installed;
  syscall(SYS_rt_sigaction, SIGSEGV, NULL, &installed, sizeof installed.mask);
  restore_rt = installed.restorer;
  if (jump_to(dlsym(RTLD_NEXT, "sigaction"), (void *)hooked_sigaction) != 0) fail("cannot patch glibc's sigaction");
  if (set_cpuid_faulting(1) != 0) fail("this kernel or CPU offers no CPUID faulting (arch_prctl ARCH_SET_CPUID)");
}
