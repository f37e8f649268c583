// One object, three sk_msg programs: one calls a kfunc, one a helper skmsg
// does not implement, one neither. The kernel loads all three; skmsg runs
// the third and refuses the first two when they are loaded, without
// refusing the object.
#include "common.h"

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("sk_msg")
int msg_kfunc(struct sk_msg_md *msg)
{
	bpf_rcu_read_lock();
	count(1);
	bpf_rcu_read_unlock();
	return SK_PASS;
}

SEC("sk_msg")
int msg_task_stack(struct sk_msg_md *msg)
{
	__u64 stack[4];

	/* The task must be a trusted pointer: the verifier refuses a NULL one. */
	if (bpf_get_task_stack(bpf_get_current_task_btf(), stack, sizeof(stack), 0) < 0)
		count(2);
	return SK_PASS;
}

SEC("sk_msg")
int msg_plain(struct sk_msg_md *msg)
{
	count(0);
	return SK_PASS;
}
