/* The guest side of vmenv's KVM check: a 64 KiB firmware image that QEMU
 * maps below 4 GiB in place of SeaBIOS. From the reset vector it does what an
 * early Linux kernel does: real mode -> protected mode -> 64-bit long mode
 * with paging (cpuid, lgdt/lidt, mov to cr0/cr3/cr4, rdmsr/wrmsr EFER), then
 * touches the local APIC and IOAPIC through MMIO (which KVM's instruction
 * emulator handles), takes a page fault and an invalid opcode through a
 * 64-bit IDT and iretq, enables SSE, sets GS through its MSR, and reports
 * by writing 1 to the pvpanic port. libvirt
 * shows that as the state "crashed (panicked)"; a KVM that cannot run the
 * code stops the guest instead ("paused", or QEMU exits). Each stage prints
 * a line on COM1 for whoever reads the console.
 *
 * Built with `as` and `objcopy -O binary`; every address is computed from
 * ROM_BASE, so the object has no relocations and needs no linker. */
        .set ROM_BASE, 0xffff0000
        .set COM1, 0x3f8
        .set PANIC_PORT, 0x505
        .set STACK, 0x8000
        .set PML4, 0x1000
        .set PDPT, 0x2000
        .set PD_LOW, 0x3000  /* 0-1 GiB */
        .set PD_HIGH, 0x4000 /* 3-4 GiB: this ROM, the APIC and IOAPIC */
        .set IDT, 0x5000     /* 256 gates of 16 bytes */
        .set COUNTS, 0x7000  /* page faults and #UD taken */
        .set SCRATCH, 0x7100
        .set GS_AREA, 0x7300
        .set FAULT_VA, 0x40000000 /* 1 GiB: not mapped until the #PF handler maps it */
        .set MSR_GS_BASE, 0xc0000101
        .set CR0_MP, 1 << 1
        .set CR0_EM, 1 << 2
        .set CR4_OSFXSR, 1 << 9
        .set CR4_OSXMMEXCPT, 1 << 10
        .set LAPIC, 0xfee00000
        .set IOAPIC, 0xfec00000
        .set MSR_EFER, 0xc0000080
        .set EFER_LME, 1 << 8
        .set EFER_LMA, 1 << 10
        .set CR0_PE, 1
        .set CR0_PG, 1 << 31
        .set CR4_PAE, 1 << 5
        .set PDE_LARGE, 0x83 /* present, writable, 2 MiB page */
        .set PDE_MMIO, 0x9b  /* the same, uncached */

        .text
rom_start:
gdt:
        .quad 0
        .quad 0x00cf9a000000ffff /* 0x08: 32-bit code, flat */
        .quad 0x00cf92000000ffff /* 0x10: data, flat */
        .quad 0x00af9a000000ffff /* 0x18: 64-bit code */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .long ROM_BASE + (gdt - rom_start)
idt_desc:
        .word 0
        .long 0
idt64_desc:
        .word 0
        .quad 0

msg_real:
        .asciz "vmenv-kvm-check: real mode\n"
msg_nolm:
        .asciz "vmenv-kvm-check: this CPU has no long mode\n"
msg_prot:
        .asciz "vmenv-kvm-check: protected mode\n"
msg_long:
        .asciz "vmenv-kvm-check: long mode\n"
msg_bad:
        .asciz "vmenv-kvm-check: long mode is not active\n"
msg_step:
        .asciz "vmenv-kvm-check: an early-boot step gave a wrong result\n"
msg_done:
        .asciz "vmenv-kvm-check: ok\n"

        .code16
/* Prints the NUL-terminated string at %cs:%si. */
print16:
        mov %cs:(%si), %al
        test %al, %al
        jz 1f
        mov $COM1, %dx
        out %al, %dx
        inc %si
        jmp print16
1:      ret

real_entry:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ss
        mov $STACK, %sp
        mov $(msg_real - rom_start), %si
        call print16
        mov $0x80000000, %eax
        cpuid
        cmp $0x80000001, %eax
        jb no_long_mode
        mov $0x80000001, %eax
        cpuid
        bt $29, %edx
        jnc no_long_mode
        lidtl %cs:(idt_desc - rom_start)
        lgdtl %cs:(gdt_desc - rom_start)
        mov %cr0, %eax
        or $CR0_PE, %eax
        mov %eax, %cr0
        ljmpl $0x08, $ROM_BASE + (prot_entry - rom_start)
no_long_mode:
        mov $(msg_nolm - rom_start), %si
        call print16
1:      hlt
        jmp 1b

        .code32
/* Prints the NUL-terminated string at %esi. */
print32:
        mov (%esi), %al
        test %al, %al
        jz 1f
        mov $COM1, %dx
        out %al, %dx
        inc %esi
        jmp print32
1:      ret

prot_entry:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $STACK, %esp
        mov $ROM_BASE + (msg_prot - rom_start), %esi
        call print32
        /* Page tables in RAM: 0-2 MiB for the stack, the 2 MiB below
         * 4 GiB for this ROM, and the APIC and IOAPIC pages, uncached. */
        mov $PML4, %edi
        xor %eax, %eax
        mov $(7 * 4096 / 4), %ecx /* the tables, the IDT and the counters */
        rep stosl
        movl $(PDPT | 3), PML4
        movl $(PD_LOW | 3), PDPT
        movl $(PD_HIGH | 3), PDPT + 3 * 8
        movl $PDE_LARGE, PD_LOW
        movl $(0xffe00000 | PDE_LARGE), PD_HIGH + 511 * 8
        movl $(LAPIC | PDE_MMIO), PD_HIGH + ((LAPIC - 0xc0000000) >> 21) * 8
        movl $(IOAPIC | PDE_MMIO), PD_HIGH + ((IOAPIC - 0xc0000000) >> 21) * 8
        mov %cr4, %eax
        or $CR4_PAE, %eax
        mov %eax, %cr4
        mov $PML4, %eax
        mov %eax, %cr3
        mov $MSR_EFER, %ecx
        rdmsr
        or $EFER_LME, %eax
        wrmsr
        mov %cr0, %eax
        or $CR0_PG, %eax
        mov %eax, %cr0
        ljmp $0x18, $ROM_BASE + (long_entry - rom_start)

        .code64
/* Prints the NUL-terminated string at %rsi. */
print64:
        mov (%rsi), %al
        test %al, %al
        jz 1f
        mov $COM1, %dx
        out %al, %dx
        inc %rsi
        jmp print64
1:      ret

long_entry:
        mov $STACK, %esp
        lidt idt64_desc(%rip)
        /* Prove that this is 64-bit mode: EFER.LMA is set and a 64-bit
         * register keeps its upper half. */
        mov $MSR_EFER, %ecx
        rdmsr
        test $EFER_LMA, %eax
        jz not_long
        movabs $0x123456789abcdef0, %rax
        shr $32, %rax
        cmp $0x12345678, %eax
        jne not_long
        mov $ROM_BASE + (msg_long - rom_start), %esi
        call print64
        /* MMIO as early Linux does it: the APIC version, then the IOAPIC's
         * version through its index/data window. */
        mov $LAPIC, %ebx
        mov 0x30(%rbx), %eax
        mov $IOAPIC, %ebx
        movl $1, (%rbx)
        mov 0x10(%rbx), %eax
        /* Exceptions through a 64-bit IDT and iretq, as early Linux takes
         * them: a page fault that the handler resolves by mapping the page
         * (early_make_pgtable), and an invalid opcode it skips. */
        mov $ROM_BASE + (pf_handler - rom_start), %eax
        mov $IDT + 14 * 16, %edi
        call set_gate
        mov $ROM_BASE + (ud_handler - rom_start), %eax
        mov $IDT + 6 * 16, %edi
        call set_gate
        sub $16, %rsp
        movw $(256 * 16 - 1), (%rsp)
        movq $IDT, 2(%rsp)
        lidt (%rsp)
        add $16, %rsp
        movq $0x5a5a5a5a, SCRATCH
        mov $FAULT_VA + SCRATCH, %eax
        mov (%rax), %rbx /* faults once, then reads SCRATCH through the new mapping */
        cmp $0x5a5a5a5a, %rbx
        jne bad_step
        cmpl $1, COUNTS
        jne bad_step
        ud2
        cmpl $1, COUNTS + 4
        jne bad_step
        /* SSE and the FPU, GS through its MSR, the time stamp counter. */
        mov %cr0, %rax
        and $~CR0_EM, %rax
        or $CR0_MP, %rax
        mov %rax, %cr0
        mov %cr4, %rax
        or $(CR4_OSFXSR | CR4_OSXMMEXCPT), %rax
        mov %rax, %cr4
        fninit
        pcmpeqd %xmm0, %xmm0
        movdqa %xmm0, SCRATCH + 0x10
        cmpl $0xffffffff, SCRATCH + 0x1c
        jne bad_step
        mov $MSR_GS_BASE, %ecx
        mov $GS_AREA, %eax
        xor %edx, %edx
        wrmsr
        movq $0x1234, %gs:8
        cmpq $0x1234, GS_AREA + 8
        jne bad_step
        rdtsc
        mov $ROM_BASE + (msg_done - rom_start), %esi
        call print64
        mov $PANIC_PORT, %dx
        mov $1, %al
        out %al, %dx
        jmp halt64
bad_step:
        mov $ROM_BASE + (msg_step - rom_start), %esi
        call print64
        jmp halt64

/* An interrupt gate at %rdi for the handler at %eax (below 4 GiB). */
set_gate:
        mov %ax, (%rdi)
        movw $0x18, 2(%rdi)
        movw $0x8e00, 4(%rdi)
        shr $16, %eax
        mov %ax, 6(%rdi)
        movq $0, 8(%rdi)
        ret

/* #PF: map 1-2 GiB onto the first GiB's page directory, count, return. */
pf_handler:
        push %rax
        movq $(PD_LOW | 3), PDPT + 8
        mov %cr2, %rax
        invlpg (%rax)
        incl COUNTS
        pop %rax
        add $8, %rsp /* the error code */
        iretq

/* #UD: skip the two-byte ud2, count, return. */
ud_handler:
        addq $2, (%rsp)
        incl COUNTS + 4
        iretq

not_long:
        mov $ROM_BASE + (msg_bad - rom_start), %esi
        call print64
halt64:
        cli
        hlt
        jmp halt64

        .org 0xfff0
reset_vector:
        .code16
        jmp real_entry
        .org 0x10000
